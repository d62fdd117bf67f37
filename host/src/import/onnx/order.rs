//! Node order: ONNX requires topologically sorted nodes, but some exporters (keras2onnx) write
//! them in another order, which onnxruntime and tract accept. kiln sorts them first (stable:
//! nodes already in order keep it) and reports a real cycle naming a node on it.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;

/// The graph's nodes in a topological order, `None` when they already are; `Err(index)` of a
/// node on a cycle.
pub(crate) fn sorted_nodes(graph: &pb::GraphProto) -> Result<Option<Vec<pb::NodeProto>>, usize> {
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            n.output
                .iter()
                .filter(|o| !o.is_empty())
                .map(move |o| (o.as_str(), i))
        })
        .collect();
    // A node's dependencies: the producers of its inputs (subgraph captures are not followed).
    let deps: Vec<Vec<usize>> = graph
        .node
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.input
                .iter()
                .filter_map(|x| producer.get(x.as_str()).copied())
                .filter(|&p| p != i)
                .collect()
        })
        .collect();
    let in_order = deps
        .iter()
        .enumerate()
        .all(|(i, d)| d.iter().all(|&p| p < i));
    if in_order {
        return Ok(None);
    }
    // Depth-first post-order from each node in file order: stable for in-order prefixes.
    let n = graph.node.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&d) = deps[node].get(*next) {
                *next += 1;
                match state[d] {
                    0 => {
                        state[d] = 1;
                        stack.push((d, 0));
                    }
                    1 => return Err(d),
                    _ => {}
                }
            } else {
                state[node] = 2;
                order.push(node);
                stack.pop();
            }
        }
    }
    let seen: HashSet<usize> = order.iter().copied().collect();
    debug_assert_eq!(seen.len(), n);
    Ok(Some(
        order.into_iter().map(|i| graph.node[i].clone()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ins: &[&str], outs: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            name: name.into(),
            op_type: "Relu".into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn sorts_out_of_order_nodes_and_finds_cycles() {
        let mut g = pb::GraphProto {
            node: vec![node("b", &["t"], &["y"]), node("a", &["x"], &["t"])],
            ..Default::default()
        };
        let sorted = sorted_nodes(&g).unwrap().unwrap();
        let names: Vec<&str> = sorted.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        g.node = sorted;
        assert_eq!(sorted_nodes(&g), Ok(None));
        g.node = vec![node("a", &["y"], &["t"]), node("b", &["t"], &["y"])];
        assert!(sorted_nodes(&g).is_err());
    }
}
