//! The pipeline up to a runnable target: import → optimize → plan → (codegen → build) and the
//! runners that execute samples on the `host` board or on a device.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::boards::Board;
use crate::build::{self, BuildError, Sizes};
use crate::codegen::{self, CodegenOptions};
use crate::ir::Graph;
use crate::plan::{self, Plan, PlanStats};
use crate::quantize::lower::{lower, LowerError, LowerOptions, LowerReport, WeightRecipe};
use crate::quantize::{calibrate_file, CalibMethod};
use crate::sim::Simulator;
use crate::toolchain::{self, Toolchain};

/// An imported, optimized, (quantized) and planned model.
pub struct Prepared {
    pub model_path: PathBuf,
    pub model_name: String,
    pub imported: crate::import::Imported,
    /// The optimized f32 graph (the float side of per-layer comparisons).
    pub float_graph: Graph,
    /// The arena plan of `float_graph`.
    pub float_plan: Plan,
    /// The graph that runs: `float_graph` for f32, its int8 lowering otherwise.
    pub graph: Graph,
    pub plan: Plan,
    pub optimize: crate::optimize::OptimizeReport,
    /// How the model was quantized (`None` for f32).
    pub quant: Option<QuantInfo>,
}

impl Prepared {
    /// `"int8"` for a quantized model, `"f32"` otherwise.
    pub fn precision(&self) -> &'static str {
        if self.quant.is_some() {
            "int8"
        } else {
            "f32"
        }
    }
}

/// Requested numeric precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F32,
    Int8,
}

/// How to quantize: kiln's own post-training quantization of a float model (`calib` given), or
/// the model's own parameters (a pre-quantized model, `calib` absent); and how to lower.
#[derive(Clone, Debug, Default)]
pub struct QuantConfig {
    pub calib: Option<PathBuf>,
    pub method: CalibMethod,
    pub lower: LowerOptions,
}

/// The quantization a prepared model got.
#[derive(Clone, Debug)]
pub struct QuantInfo {
    /// `ptq` (kiln's calibration) or `model` (the model's own QDQ parameters).
    pub source: &'static str,
    /// Calibration method, sha256 of the calibration file and its sample count (`ptq` only).
    pub method: Option<CalibMethod>,
    pub calib_hash: Option<String>,
    pub calib_samples: Option<usize>,
    pub weights: WeightRecipe,
    pub report: LowerReport,
}

impl QuantInfo {
    /// One-line recipe, e.g. `ptq minmax, weights int8 per-channel, activations int8 per-tensor`.
    pub fn recipe(&self) -> String {
        if self.source == "model" {
            return "the model's own scales and zero points (QDQ or TFLite; int8 weights per-channel or \
                    per-tensor, int8 activations per-tensor)"
                .into();
        }
        format!(
            "{} {}, weights {}-bit symmetric per-{}, activations int8 asymmetric per-tensor",
            self.source,
            self.method.map(|m| m.to_string()).unwrap_or_default(),
            self.weights.bits,
            if self.weights.per_channel {
                "channel"
            } else {
                "tensor"
            }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error(transparent)]
    Toolchain(#[from] toolchain::ToolchainError),
    #[error(transparent)]
    Codegen(#[from] codegen::CodegenError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
    /// Boxed: probe-rs' errors are large.
    #[error(transparent)]
    Flash(Box<crate::flash::FlashError>),
    #[error(
        "board `{board}` is not emulated; running on real boards needs a probe (not supported yet)"
    )]
    NotEmulated { board: String },
    #[error("internal error: invalid memory plan: {0}")]
    Plan(String),
    #[error("calibration data: {0}")]
    Calib(#[from] crate::data::DataError),
    #[error(transparent)]
    Lower(#[from] LowerError),
    #[error(
        "--precision int8 on a float model needs calibration data: pass --calib CAL.npz (inputs \
         keyed like the model's, drawn from the training split)"
    )]
    NeedsCalibration,
    #[error("--calib, --float-layers and --int8-io are only used with --precision int8")]
    QuantOptionsWithoutInt8,
    #[error(
        "{model} is pre-quantized (QDQ): it runs int8 with its own scales and zero points; \
         drop --calib (kiln does not re-calibrate a quantized model)"
    )]
    CalibOnQuantized { model: PathBuf },
    #[error(
        "{model} is pre-quantized (QDQ): --precision f32 would change what it computes; build \
         it int8 (the default for a quantized model)"
    )]
    F32OnQuantized { model: PathBuf },
}

impl From<crate::flash::FlashError> for DeployError {
    fn from(e: crate::flash::FlashError) -> Self {
        DeployError::Flash(Box::new(e))
    }
}

pub fn model_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    // `models/<name>/model.onnx` is named after its folder, `models/<name>/model_<variant>.tflite`
    // after its folder and variant (`kws-int8`).
    let variant = match stem.strip_prefix("model") {
        Some("") => Some(""),
        Some(v) if v.starts_with('_') || v.starts_with('-') => Some(&v[1..]),
        _ => None,
    };
    if let Some(variant) = variant {
        if let Some(dir) = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
        {
            return if variant.is_empty() {
                dir.to_string()
            } else {
                format!("{dir}-{variant}")
            };
        }
    }
    stem.to_string()
}

/// Imports, optimizes, quantizes and plans. `precision` `None` means the model's own: int8 for a
/// pre-quantized model, f32 otherwise.
pub fn prepare(
    model: &Path,
    opts: &crate::import::ImportOptions,
    precision: Option<Precision>,
    qc: &QuantConfig,
) -> Result<Prepared, DeployError> {
    let imported = crate::import::import(model, opts)?;
    let quantized = imported.graph.meta.quantized;
    let int8 = match (quantized, precision) {
        (true, Some(Precision::F32)) => {
            return Err(DeployError::F32OnQuantized {
                model: model.into(),
            })
        }
        (true, _) if qc.calib.is_some() => {
            return Err(DeployError::CalibOnQuantized {
                model: model.into(),
            })
        }
        (true, _) => true,
        (false, Some(Precision::Int8)) if qc.calib.is_none() => {
            return Err(DeployError::NeedsCalibration)
        }
        (false, Some(Precision::Int8)) => true,
        (false, _)
            if qc.calib.is_some() || !qc.lower.float_layers.is_empty() || qc.lower.int8_io =>
        {
            return Err(DeployError::QuantOptionsWithoutInt8)
        }
        (false, _) => false,
    };
    let mut float_graph = imported.graph.clone();
    let optimize = crate::optimize::optimize(&mut float_graph);
    let float_plan = plan::plan(&float_graph);
    plan::verify(&float_graph, &float_plan).map_err(DeployError::Plan)?;
    let (graph, plan, quant) = if !int8 {
        (float_graph.clone(), float_plan.clone(), None)
    } else {
        let cal = match &qc.calib {
            Some(path) => Some(calibrate_file(&float_graph, &float_plan, path, qc.method)?),
            None => None,
        };
        let (g, report) = lower(&float_graph, cal.as_ref(), &qc.lower)?;
        let p = plan::plan(&g);
        plan::verify(&g, &p).map_err(DeployError::Plan)?;
        let info = QuantInfo {
            source: if cal.is_some() { "ptq" } else { "model" },
            method: cal.as_ref().map(|c| c.method),
            calib_samples: cal.as_ref().map(|c| c.samples),
            calib_hash: cal.map(|c| c.hash),
            weights: qc.lower.weights,
            report,
        };
        (g, p, Some(info))
    };
    Ok(Prepared {
        model_path: model.to_path_buf(),
        model_name: model_name(model),
        imported,
        float_graph,
        float_plan,
        graph,
        plan,
        optimize,
        quant,
    })
}

/// A built firmware image.
#[derive(Clone, Debug, Serialize)]
pub struct Firmware {
    pub dir: PathBuf,
    pub elf: PathBuf,
    #[serde(serialize_with = "hex_hash")]
    pub hash: [u8; 16],
    pub sizes: Sizes,
    pub plan: PlanStats,
    pub toolchain: Toolchain,
    pub build_seconds: f64,
    /// The `DEFMT_LOG` filter of a firmware that logs to the host (`--log`); `None`: no logger.
    pub defmt_log: Option<String>,
}

fn hex_hash<S: serde::Serializer>(h: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

/// Default output directory of a prepared model for a board: `kiln-out/<model>-<board>` for
/// f32, `kiln-out/<model>-int8-<board>` for int8; a TFLite file's `<model>` gets `-tflite`, so
/// it and its ONNX conversion beside it (`model.tflite`, `model.onnx`) build apart.
pub fn default_out_of(p: &Prepared, board: &str) -> PathBuf {
    let tflite = matches!(
        p.imported.model.source,
        crate::import::ReferenceSource::Tflite(_)
    );
    let name = if tflite {
        format!("{}-tflite", p.model_name)
    } else {
        p.model_name.clone()
    };
    default_out(&name, board, p.precision())
}

/// Default output directory for a model name, board and precision (see [`default_out_of`]).
pub fn default_out(model_name: &str, board: &str, precision: &str) -> PathBuf {
    let name = codegen::crate_name(model_name);
    PathBuf::from("kiln-out").join(match precision {
        "f32" => format!("{name}-{board}"),
        p => format!("{name}-{p}-{board}"),
    })
}

/// Checks fit, generates the crate into `out` and builds it (kiln's own serial protocol).
pub fn build_firmware(
    p: &Prepared,
    board: &Board,
    out: &Path,
    target_dir: Option<&Path>,
    selftest: Option<(Vec<f32>, u32)>,
) -> Result<Firmware, DeployError> {
    build_firmware_for(
        p,
        board,
        out,
        target_dir,
        selftest,
        codegen::Protocol::Kiln,
        None,
    )
}

/// [`build_firmware`] speaking `protocol` on the UART, with defmt logging to the host built in
/// at `log`'s `DEFMT_LOG` filter ([`CodegenOptions::log`]).
pub fn build_firmware_for(
    p: &Prepared,
    board: &Board,
    out: &Path,
    target_dir: Option<&Path>,
    selftest: Option<(Vec<f32>, u32)>,
    protocol: codegen::Protocol,
    log: Option<String>,
) -> Result<Firmware, DeployError> {
    build::check_fit(board, &p.plan.stats)?;
    let tc = toolchain::find(&board.target)?;
    let opts = CodegenOptions {
        model_name: p.model_name.clone(),
        build_std: tc.build_std(),
        selftest,
        protocol,
        log,
    };
    // Relative paths are the caller's, not the crate's (cargo runs inside the crate).
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let out = &abs(out);
    let target_dir = target_dir.map(abs);
    let gen = codegen::generate(out, &p.graph, &p.plan, board, &opts)?;
    let built = build::cargo_build(out, &gen.package, board, &tc, target_dir.as_deref())?;
    let sizes = build::sizes(&built.elf)?;
    Ok(Firmware {
        dir: out.to_path_buf(),
        elf: built.elf,
        hash: gen.hash,
        sizes,
        plan: p.plan.stats.clone(),
        toolchain: tc,
        build_seconds: built.seconds,
        defmt_log: gen.log,
    })
}

/// One inference's results.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub outputs: Vec<Vec<f32>>,
    /// Emulated instructions (QEMU) of the inference; `None` on the host board and real boards.
    pub instructions: Option<u64>,
    /// Core clock cycles of the inference on a real board; `None` elsewhere.
    pub cycles: Option<u64>,
}

/// Stack use measured on the device.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// High-water mark in bytes (stack painting).
    pub stack_used: u32,
    /// Bytes reserved for the stack.
    pub stack_reserve: u32,
}

/// One layer's output from [`Runner::run_layers`].
#[derive(Clone, Debug)]
pub struct LayerOutput {
    /// The layer's (first) output as f32 (int8 dequantized with its params).
    pub values: Vec<f32>,
    /// Emulated instructions of layers `0..=layer` (emulated boards only).
    pub instructions_until: Option<u64>,
    /// Core clock cycles of layers `0..=layer` (real boards only).
    pub cycles_until: Option<u64>,
}

/// Something that runs samples: the host board or a device.
pub trait Runner {
    /// Runs one sample; `inputs[i]` is graph input `i`.
    fn run(&mut self, inputs: &[&[f32]]) -> Result<RunResult, DeployError>;
    /// Runs one sample layer by layer and returns the output of each layer (node index of the
    /// prepared graph) in `layers`.
    fn run_layers(
        &mut self,
        inputs: &[&[f32]],
        layers: &[usize],
    ) -> Result<Vec<LayerOutput>, DeployError>;
    /// Stack use so far (devices only).
    fn stats(&mut self) -> Result<Option<Stats>, DeployError>;
    /// The firmware being run (devices only).
    fn firmware(&self) -> Option<&Firmware>;
}

/// Executes samples on the host board through the same kernels and plan as the firmware.
pub struct HostRunner<'a> {
    sim: Simulator<'a>,
    graph: &'a Graph,
}

impl Runner for HostRunner<'_> {
    fn run(&mut self, inputs: &[&[f32]]) -> Result<RunResult, DeployError> {
        Ok(HostRunner::run(self, inputs))
    }
    fn run_layers(
        &mut self,
        inputs: &[&[f32]],
        layers: &[usize],
    ) -> Result<Vec<LayerOutput>, DeployError> {
        let g = self.graph;
        let mut seen: std::collections::HashMap<usize, Vec<f32>> = Default::default();
        self.sim.run_observed(inputs, &mut |t, v| {
            seen.insert(t, v.to_vec());
        });
        Ok(layers
            .iter()
            .map(|&l| LayerOutput {
                values: seen
                    .get(&g.nodes[l].outputs[0])
                    .cloned()
                    .unwrap_or_default(),
                instructions_until: None,
                cycles_until: None,
            })
            .collect())
    }
    fn stats(&mut self) -> Result<Option<Stats>, DeployError> {
        Ok(None)
    }
    fn firmware(&self) -> Option<&Firmware> {
        None
    }
}

impl<'a> HostRunner<'a> {
    pub fn new(p: &'a Prepared) -> HostRunner<'a> {
        HostRunner {
            sim: Simulator::new(&p.graph, &p.plan),
            graph: &p.graph,
        }
    }
    pub fn run(&mut self, inputs: &[&[f32]]) -> RunResult {
        RunResult {
            outputs: self.sim.run(inputs),
            instructions: None,
            cycles: None,
        }
    }
}

/// What a device's timer ticks count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Counter {
    /// Emulated instructions (QEMU `-icount shift=0`), this many per tick.
    Instructions { per_tick: f64 },
    /// Core clock cycles of a real board (DWT, or SysTick at the core clock), this many per tick.
    Cycles { per_tick: f64 },
}

impl Counter {
    pub fn of(board: &Board) -> Counter {
        if board.is_emulated() {
            Counter::Instructions {
                per_tick: board.instructions_per_tick(),
            }
        } else {
            Counter::Cycles {
                per_tick: board.clock_hz as f64 / board.timer.hz as f64,
            }
        }
    }

    /// `(instructions, cycles)` of `ticks`: one of the two, by the counter's kind.
    fn split(self, ticks: u64) -> (Option<u64>, Option<u64>) {
        match self {
            Counter::Instructions { per_tick } => {
                (Some((ticks as f64 * per_tick).round() as u64), None)
            }
            Counter::Cycles { per_tick } => (None, Some((ticks as f64 * per_tick).round() as u64)),
        }
    }
}

/// How a real board was reached: the flashing and the serial port.
#[derive(Clone, Debug, Serialize)]
pub struct RealLink {
    pub flashed: crate::flash::Flashed,
    pub port: PathBuf,
    /// The port was found from the probe's USB identity (not given with `--port`).
    pub port_auto: bool,
    pub baud: u32,
    /// What the firmware said in the handshake.
    pub device: crate::link::DeviceInfo,
}

/// Executes samples on a device: an emulated board in QEMU over its serial pty, or a real board
/// flashed through its debug probe, over its serial port. QEMU is stopped when the runner is
/// dropped (and on Ctrl-C).
pub struct DeviceRunner {
    // Field order: the port closes before QEMU is stopped.
    device: crate::link::Device<serialport::TTYPort>,
    _qemu: Option<crate::link::QemuSession>,
    real: Option<RealLink>,
    firmware: Firmware,
    output_bytes: Vec<usize>,
    /// Graph inputs and outputs (element types and params of the bytes on the link).
    inputs: Vec<crate::ir::Tensor>,
    outputs: Vec<crate::ir::Tensor>,
    counter: Counter,
    /// Per node: its first output's arena region, element type and params.
    layer_outputs: Vec<(crate::plan::Region, crate::ir::Tensor)>,
}

impl DeviceRunner {
    /// Hands the device's log frames to `sink` from now on, starting with those that arrived
    /// since the link opened ([`Device::set_log_sink`](crate::link::Device::set_log_sink)).
    pub fn set_log_sink(&mut self, sink: Option<crate::link::LogSink>) {
        self.device.set_log_sink(sink);
    }

    /// Boots `fw` on the emulated `board`, and checks the handshake (protocol version, model
    /// hash) before anything else.
    pub fn start(
        board: &Board,
        fw: Firmware,
        g: &Graph,
        plan: &Plan,
        qemu_binary: &Path,
        timeout: std::time::Duration,
    ) -> Result<DeviceRunner, DeployError> {
        let q = board
            .qemu
            .as_ref()
            .ok_or_else(|| DeployError::NotEmulated {
                board: board.name.clone(),
            })?;
        crate::link::install_interrupt_handler();
        let mut cfg = crate::link::QemuConfig::new(&q.machine, &q.cpu, &fw.elf);
        cfg.binary = qemu_binary.to_path_buf();
        let qemu = crate::link::QemuSession::spawn(&cfg)?;
        let opts = crate::link::LinkOptions {
            timeout,
            invoke_timeout: timeout.max(std::time::Duration::from_secs(60)),
            ..Default::default()
        };
        let mut device = qemu.connect(opts)?;
        device.hello(&fw.hash)?;
        Ok(Self::assemble(device, Some(qemu), None, board, fw, g, plan))
    }

    /// Flashes `fw` to the real `board` through the probe `r` names, opens its serial port at
    /// the board's baud rate, resets the chip and checks the handshake (protocol version, model
    /// hash).
    pub fn start_real(
        board: &Board,
        fw: Firmware,
        g: &Graph,
        plan: &Plan,
        r: &crate::flash::Resolved,
        timeout: std::time::Duration,
    ) -> Result<DeviceRunner, DeployError> {
        let mut session = crate::flash::attach(r)?;
        session.download(&fw.elf)?;
        let baud = board.uart.baud.unwrap_or(115_200);
        let port = serialport::new(r.port.to_string_lossy(), baud)
            .timeout(std::time::Duration::from_millis(100))
            .open_native()
            .map_err(|source| crate::link::LinkError::OpenPort {
                path: r.port.clone(),
                source,
            })?;
        // Bytes left in the port's buffers by earlier firmware are not this run's; the port is
        // open before the reset, so nothing the new firmware sends is lost.
        let _ = serialport::SerialPort::clear(&port, serialport::ClearBuffer::All);
        let flashed = session.reset_and_run(&fw.elf)?;
        let opts = crate::link::LinkOptions {
            timeout,
            invoke_timeout: timeout.max(std::time::Duration::from_secs(60)),
            ..Default::default()
        };
        let mut device = crate::link::Device::with_options(port, opts);
        let info = device.hello(&fw.hash)?;
        let real = RealLink {
            flashed,
            port: r.port.clone(),
            port_auto: r.port_auto,
            baud,
            device: info,
        };
        Ok(Self::assemble(device, None, Some(real), board, fw, g, plan))
    }

    /// How the real board was reached (`None` for an emulated one).
    pub fn real(&self) -> Option<&RealLink> {
        self.real.as_ref()
    }

    /// Ends the session and returns its serial port, to read what the device sends afterwards
    /// (its logs). An emulated board's QEMU stops here.
    pub fn into_port(self) -> serialport::TTYPort {
        self.device.into_inner()
    }

    fn assemble(
        device: crate::link::Device<serialport::TTYPort>,
        qemu: Option<crate::link::QemuSession>,
        real: Option<RealLink>,
        board: &Board,
        fw: Firmware,
        g: &Graph,
        plan: &Plan,
    ) -> DeviceRunner {
        DeviceRunner {
            device,
            _qemu: qemu,
            real,
            firmware: fw,
            output_bytes: g.outputs.iter().map(|&t| g.tensors[t].bytes()).collect(),
            inputs: g.inputs.iter().map(|&t| g.tensors[t].clone()).collect(),
            outputs: g.outputs.iter().map(|&t| g.tensors[t].clone()).collect(),
            counter: Counter::of(board),
            layer_outputs: g
                .nodes
                .iter()
                .map(|n| {
                    let t = n.outputs[0];
                    let mut r = plan.arena(t);
                    r.bytes = g.tensors[t].bytes();
                    (r, g.tensors[t].clone())
                })
                .collect(),
        }
    }
}

impl Runner for DeviceRunner {
    fn run(&mut self, inputs: &[&[f32]]) -> Result<RunResult, DeployError> {
        let bytes: Vec<Vec<u8>> = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(v, t)| crate::sim::raw_bytes_of(t, v))
            .collect();
        let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let (outs, ticks) = self.device.run_sample(&refs, &self.output_bytes)?;
        let (instructions, cycles) = self.counter.split(ticks);
        Ok(RunResult {
            outputs: outs
                .iter()
                .zip(&self.outputs)
                .map(|(b, t)| crate::sim::raw_values_of(t, b))
                .collect(),
            instructions,
            cycles,
        })
    }
    fn run_layers(
        &mut self,
        inputs: &[&[f32]],
        layers: &[usize],
    ) -> Result<Vec<LayerOutput>, DeployError> {
        let bytes: Vec<Vec<u8>> = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(v, t)| crate::sim::raw_bytes_of(t, v))
            .collect();
        let mut out = Vec::with_capacity(layers.len());
        for &l in layers {
            // Every partial run starts from freshly written inputs: a run may overwrite them.
            for (i, b) in bytes.iter().enumerate() {
                self.device.write_input(i as u8, b)?;
            }
            let ticks = self.device.invoke_until(l as u32)?;
            let (r, t) = &self.layer_outputs[l];
            let data = self.device.read_arena(r.offset, r.bytes)?;
            let (instructions_until, cycles_until) = self.counter.split(ticks);
            out.push(LayerOutput {
                values: crate::sim::values_of(t, &data),
                instructions_until,
                cycles_until,
            });
        }
        Ok(out)
    }
    fn stats(&mut self) -> Result<Option<Stats>, DeployError> {
        let s = self.device.stats()?;
        Ok(Some(Stats {
            stack_used: s.used,
            stack_reserve: s.reserve,
        }))
    }
    fn firmware(&self) -> Option<&Firmware> {
        Some(&self.firmware)
    }
}

#[cfg(test)]
mod tests {
    use super::{default_out_of, model_name, prepare, QuantConfig};
    use std::path::Path;

    #[test]
    fn a_tflite_file_and_its_onnx_conversion_build_apart() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/mlperf-tiny/ad");
        let out = |file: &str| {
            let p = prepare(
                &root.join(file),
                &Default::default(),
                None,
                &QuantConfig::default(),
            )
            .unwrap();
            default_out_of(&p, "mps2-an386")
        };
        assert_eq!(
            out("model_int8.tflite"),
            Path::new("kiln-out/ad-int8-tflite-int8-mps2-an386")
        );
        assert_eq!(
            out("model_int8.onnx"),
            Path::new("kiln-out/ad-int8-int8-mps2-an386")
        );
    }

    #[test]
    fn model_names_from_paths() {
        assert_eq!(
            model_name(Path::new("models/digits-cnn/model.onnx")),
            "digits-cnn"
        );
        assert_eq!(
            model_name(Path::new("models/mlperf-tiny/kws/model_int8.tflite")),
            "kws-int8"
        );
        assert_eq!(model_name(Path::new("x/my-net.tflite")), "my-net");
        assert_eq!(model_name(Path::new("x/models_v2.onnx")), "models_v2");
    }
}
