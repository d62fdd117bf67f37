//! Self-test mode: run baked-in samples and print the outputs as text.

use core::fmt::Write;

use crate::uart::Uart;
use crate::{stack, timer, ModelDesc};

pub(crate) fn run(
    desc: &ModelDesc,
    arena: &mut [u8],
    invoke: crate::Invoke,
    samples: &[u8],
    n: u32,
) -> ! {
    let mut uart = Uart::take();
    timer::start();
    let sample_bytes: usize = desc.inputs.iter().map(|io| io.bytes as usize).sum();
    let needed = sample_bytes * n as usize;
    assert!(
        samples.len() >= needed,
        "BUG(kiln): selftest needs {needed} bytes of samples, got {}",
        samples.len()
    );
    // Writes to the UART cannot fail.
    let _ = writeln!(uart, "kiln selftest: {n} samples");
    for (s, sample) in samples[..needed]
        .chunks_exact(sample_bytes.max(1))
        .enumerate()
    {
        let mut rest = sample;
        for io in desc.inputs {
            let (bytes, tail) = rest.split_at(io.bytes as usize);
            arena[io.offset as usize..][..bytes.len()].copy_from_slice(bytes);
            rest = tail;
        }
        let ticks = timer::measure(|| invoke(arena, crate::ALL_LAYERS));
        for (k, io) in desc.outputs.iter().enumerate() {
            let bytes = &arena[io.offset as usize..][..io.bytes as usize];
            let _ = write!(uart, "sample {s}: out{k} = ");
            print_values(&mut uart, bytes);
        }
        let _ = writeln!(uart, "sample {s}: ticks = {ticks}");
    }
    let _ = writeln!(
        uart,
        "kiln selftest: done, stack used {} of {} bytes",
        stack::used(),
        desc.stack_reserve
    );
    crate::exit::exit(true)
}

/// `[v0, v1, ..]` as f32 (shortest round-trip form), or `hex:..` when not whole f32s.
fn print_values(uart: &mut Uart, bytes: &[u8]) {
    if bytes.len() % 4 == 0 {
        let _ = uart.write_str("[");
        for (i, b) in bytes.chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(uart, "{sep}{v:?}");
        }
        let _ = uart.write_str("]\n");
    } else {
        let _ = uart.write_str("hex:");
        for b in bytes {
            let _ = write!(uart, "{b:02x}");
        }
        let _ = uart.write_str("\n");
    }
}
