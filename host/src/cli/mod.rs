//! The `kiln` command line: argument parsing, rendering, exit codes (0 ok, 1 a check failed,
//! 2 an error). One module per subcommand.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod boards;
mod build;
mod compare;
mod doctor;
mod flash;
mod history;
mod inspect;
mod profile;
mod run;
mod validate;

/// A check that failed (exit code 1), as opposed to an error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

#[derive(Parser, Debug)]
#[command(
    name = "kiln",
    version,
    about = "Deploy a pre-trained ONNX model to microcontroller firmware, run it and validate it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Granularity {
    Channel,
    Tensor,
}

fn parse_calib_method(s: &str) -> Result<crate::quantize::CalibMethod, String> {
    s.parse()
        .map_err(|e: crate::quantize::ParseCalibMethodError| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    F32,
    Int8,
}

/// Options that choose and build the firmware; shared by build, run, validate and bench.
#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// The ONNX model file.
    pub model: PathBuf,
    /// Board name (`kiln boards` lists them; `host` runs in-process).
    #[arg(long, short, default_value = crate::boards::DEFAULT_BOARD)]
    pub board: String,
    /// Directory with extra board files.
    #[arg(long)]
    pub boards_dir: Option<PathBuf>,
    /// Numeric precision of the firmware (default: the model's own: int8 for a pre-quantized
    /// QDQ model, f32 otherwise).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Calibration data (`.npz`, keyed like the inputs) for `--precision int8`.
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// How activation ranges are chosen: `minmax`, `percentile[:P]` (default P 99.99) or `mse`.
    #[arg(long, default_value = "minmax", value_parser = parse_calib_method)]
    pub calib_method: crate::quantize::CalibMethod,
    /// ONNX node names to keep in f32 in an int8 build (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub float_layers: Vec<String>,
    /// Bits of the symmetric weight grid in an int8 build (2..=8; below 8 only to measure what a
    /// coarser recipe costs).
    #[arg(long, default_value_t = 8, value_name = "BITS")]
    pub weight_bits: u8,
    /// One weight scale per output channel (`channel`) or per tensor (`tensor`).
    #[arg(long, value_enum, default_value = "channel")]
    pub weight_granularity: Granularity,
    /// In an int8 build, make float model inputs and outputs int8 (data quantized with the
    /// parameters `build` prints) instead of converting on the device.
    #[arg(long)]
    pub int8_io: bool,
    /// Fixed shape for an input with symbolic dims, e.g. `input=1x49x10x1` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shapes: Vec<String>,
    /// Where the generated firmware crate goes (default `kiln-out/<model>-<board>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Cargo target directory for the firmware build (default: `$KILN_TARGET_DIR`, else inside `--out`).
    #[arg(long, env = "KILN_TARGET_DIR")]
    pub target_dir: Option<PathBuf>,
    /// Build the firmware with defmt logging to the host (levels: `$DEFMT_LOG`, default
    /// `info`); `run`, `validate` and `bench` print the device's log lines on stderr.
    #[arg(long)]
    pub log: bool,
}

/// Options for talking to a board.
#[derive(Args, Debug, Clone)]
pub struct LinkArgs {
    /// Seconds to wait for any answer from the board.
    #[arg(long, default_value_t = 20.0)]
    pub timeout: f64,
    /// QEMU binary for emulated boards.
    #[arg(long, env = "KILN_QEMU", default_value = "qemu-system-arm")]
    pub qemu: PathBuf,
    /// Probe and serial port of a real board.
    #[command(flatten)]
    pub connect: flash::ConnectArgs,
}

impl LinkArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout.max(0.001))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// What is installed (QEMU, toolchains, debug probes, serial ports) and how to fix what is
    /// missing.
    Doctor(doctor::DoctorArgs),
    /// The board catalog.
    Boards(boards::BoardsArgs),
    /// Inputs, outputs, ops and their support, parameters, MACs, per-layer table.
    Inspect(inspect::InspectArgs),
    /// Generate and build the firmware crate; print flash and RAM.
    Build(build::BuildCmd),
    /// Run samples on the board; write outputs; print latency.
    Run(run::RunArgs),
    /// Device vs host simulation vs float model vs labels.
    Validate(validate::ValidateArgs),
    /// Latency per inference, MACs, flash and RAM.
    Bench(run::BenchArgs),
    /// Stored validate runs, newest first.
    History(history::HistoryArgs),
    /// Deltas between two runs (ids or report files); exit 1 when B regresses against A.
    Compare(compare::CompareArgs),
    /// Build for a real board, flash it through its debug probe and check it answers.
    Flash(flash::FlashArgs),
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Doctor(a) => doctor::run(a),
        Command::Boards(a) => boards::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Build(a) => build::run(a),
        Command::Run(a) => run::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Bench(a) => run::bench(a),
        Command::History(a) => history::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Flash(a) => flash::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<CheckFailed>() {
                eprintln!("check failed: {c}");
                1
            } else {
                eprintln!("error: {e}");
                for cause in e.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                2
            }
        }
    }
}

/// Prints a serializable value as one JSON object on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Parses `--input-shape NAME=1x49x10x1` options.
pub fn parse_input_shapes(
    v: &[String],
) -> anyhow::Result<std::collections::HashMap<String, Vec<usize>>> {
    let mut m = std::collections::HashMap::new();
    for s in v {
        let (name, dims) = s.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--input-shape `{s}`: expected NAME=DIMS, e.g. input=1x49x10x1")
        })?;
        let dims: Result<Vec<usize>, _> = dims
            .split(['x', ','])
            .map(|d| d.trim().parse::<usize>())
            .collect();
        let dims = dims.map_err(|_| {
            anyhow::anyhow!("--input-shape `{s}`: dims must be positive integers separated by `x`")
        })?;
        if dims.is_empty() || dims.contains(&0) {
            anyhow::bail!("--input-shape `{s}`: dims must be positive integers separated by `x`");
        }
        m.insert(name.to_string(), dims);
    }
    Ok(m)
}

/// The board a command targets.
pub enum Target {
    Host,
    Board(Box<crate::boards::Board>),
}

/// Resolves the board and imports, optimizes and plans the model.
pub fn prepare(a: &BuildArgs) -> anyhow::Result<(crate::deploy::Prepared, Target)> {
    prepare_with_data(a, None)
}

/// Input shapes by input name.
type InputShapes = HashMap<String, Vec<usize>>;

/// The input shapes `data` fixes for the symbolic dims `dims` of `model`: each such input's
/// array is `[N, *shape]` (a sample axis, then the input's shape). `None` when the data does
/// not say (a missing key, another rank).
fn shapes_from_data(
    data: &std::path::Path,
    dims: &[crate::import::UnresolvedDim],
) -> Option<(InputShapes, Vec<String>)> {
    let arrays = crate::data::array_shapes(data).ok()?;
    let mut shapes = HashMap::new();
    let mut notices = vec![];
    for d in dims {
        if shapes.contains_key(&d.input) {
            continue;
        }
        let single = arrays.len() == 1 && arrays[0].0.is_empty();
        let (_, got) = arrays.iter().find(|(k, _)| *k == d.input || single)?;
        let shape = got.get(1..)?.to_vec();
        if shape.len() <= d.dim || shape.contains(&0) {
            return None;
        }
        shapes.insert(d.input.clone(), shape);
    }
    for d in dims {
        let v = shapes[&d.input][d.dim];
        let what = if d.param.is_empty() {
            String::new()
        } else {
            format!(" (`{}`)", d.param)
        };
        notices.push(format!(
            "input `{}`: dimension {}{what} = {v}, taken from {}",
            d.input,
            d.dim,
            data.display()
        ));
    }
    Some((shapes, notices))
}

/// [`prepare`], fixing symbolic input dimensions from the samples in `data` when the model
/// leaves them open and `--input-shape` does not give them.
pub fn prepare_with_data(
    a: &BuildArgs,
    data: Option<&std::path::Path>,
) -> anyhow::Result<(crate::deploy::Prepared, Target)> {
    let catalog = boards::catalog(a.boards_dir.as_deref())?;
    let target = if a.board == crate::boards::HOST {
        Target::Host
    } else {
        Target::Board(Box::new(catalog.get(&a.board)?.clone()))
    };
    let qc = crate::deploy::QuantConfig {
        calib: a.calib.clone(),
        method: a.calib_method,
        lower: crate::quantize::lower::LowerOptions {
            float_layers: a.float_layers.clone(),
            weights: crate::quantize::lower::WeightRecipe {
                bits: a.weight_bits,
                per_channel: a.weight_granularity == Granularity::Channel,
            },
            int8_io: a.int8_io,
        },
    };
    let precision = a.precision.map(|p| match p {
        Precision::F32 => crate::deploy::Precision::F32,
        Precision::Int8 => crate::deploy::Precision::Int8,
    });
    let mut opts = crate::import::ImportOptions {
        input_shapes: parse_input_shapes(&a.input_shapes)?,
    };
    let p = match crate::deploy::prepare(&a.model, &opts, precision, &qc) {
        Err(crate::deploy::DeployError::Import(
            crate::import::ImportError::UnresolvedInputDims { path, dims },
        )) => {
            let Some((shapes, notices)) = data.and_then(|d| shapes_from_data(d, &dims)) else {
                return Err(crate::import::ImportError::UnresolvedInputDims { path, dims }.into());
            };
            opts.input_shapes.extend(shapes);
            let mut p = crate::deploy::prepare(&a.model, &opts, precision, &qc)?;
            for g in [&mut p.graph, &mut p.float_graph, &mut p.imported.graph] {
                g.meta.notices.extend(notices.iter().cloned());
            }
            p
        }
        other => other?,
    };
    Ok((p, target))
}

/// Builds the firmware for `board` with a spinner on a terminal.
pub fn build_firmware(
    a: &BuildArgs,
    p: &crate::deploy::Prepared,
    board: &crate::boards::Board,
    selftest: Option<(Vec<f32>, u32)>,
) -> anyhow::Result<crate::deploy::Firmware> {
    build_firmware_for(a, p, board, selftest, crate::codegen::Protocol::Kiln)
}

/// [`build_firmware`] speaking `protocol`; a non-kiln protocol's default output directory
/// gets the protocol's name as a suffix (`kiln-out/<model>-<board>-mlperf-tiny`), so it and
/// the kiln-protocol build of `run`/`validate`/`bench` do not overwrite each other.
pub fn build_firmware_for(
    a: &BuildArgs,
    p: &crate::deploy::Prepared,
    board: &crate::boards::Board,
    selftest: Option<(Vec<f32>, u32)>,
    protocol: crate::codegen::Protocol,
) -> anyhow::Result<crate::deploy::Firmware> {
    let out = a.out.clone().unwrap_or_else(|| {
        let out = crate::deploy::default_out_of(p, &board.name);
        match protocol {
            crate::codegen::Protocol::Kiln => out,
            crate::codegen::Protocol::MlperfTiny { .. } => {
                let mut name = out.into_os_string();
                name.push("-mlperf-tiny");
                PathBuf::from(name)
            }
            crate::codegen::Protocol::KernelCheck { .. } => {
                let mut name = out.into_os_string();
                name.push("-kernel-check");
                PathBuf::from(name)
            }
        }
    });
    let spinner = progress::spinner(&format!(
        "building firmware for {} ({})",
        board.name, board.target
    ));
    let log = if a.log {
        if selftest.is_some() || protocol != crate::codegen::Protocol::Kiln {
            anyhow::bail!(
                "--log needs kiln's serial link: a --selftest or MLPerf Tiny firmware writes \
                 text on the UART, where log frames cannot go"
            );
        }
        Some(defmt_log_filter())
    } else {
        None
    };
    let r = crate::deploy::build_firmware_for(
        p,
        board,
        &out,
        a.target_dir.as_deref(),
        selftest,
        protocol,
        log,
    );
    spinner.finish_and_clear();
    Ok(r?)
}

pub mod progress {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;

    /// A spinner on stderr, hidden when stderr is not a terminal.
    pub fn spinner(msg: &str) -> ProgressBar {
        let pb = if std::io::stderr().is_terminal() {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        };
        pb.set_message(msg.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    }

    /// A sample-loop bar on stderr, hidden when stderr is not a terminal.
    pub fn bar(n: u64, msg: &str) -> ProgressBar {
        let pb = if std::io::stderr().is_terminal() {
            ProgressBar::new(n)
        } else {
            ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden())
        };
        if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]") {
            pb.set_style(style);
        }
        pb.set_message(msg.to_string());
        pb
    }
}

/// The `DEFMT_LOG` filter a `--log` firmware is built with: `$DEFMT_LOG` when set (defmt's own
/// convention), else [`crate::link::log::DEFAULT_FILTER`].
pub fn defmt_log_filter() -> String {
    std::env::var("DEFMT_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| crate::link::log::DEFAULT_FILTER.to_string())
}

/// A log sink printing the device's decoded log lines on stderr (`--log`), decoded with the
/// defmt table of `fw`'s ELF.
pub fn log_printer(fw: &crate::deploy::Firmware) -> anyhow::Result<crate::link::LogSink> {
    let decoder = crate::link::LogDecoder::from_elf(&fw.elf)?;
    Ok(crate::link::log::sink(decoder, |line| match line {
        Ok(line) => eprintln!("{line}"),
        Err(e) => eprintln!("[device ?????] {e}"),
    }))
}

/// Builds (for a device) and starts the runner for the command's board.
pub fn open_runner<'a>(
    b: &BuildArgs,
    l: &LinkArgs,
    p: &'a crate::deploy::Prepared,
    target: &Target,
) -> anyhow::Result<Box<dyn crate::deploy::Runner + 'a>> {
    match target {
        Target::Host => Ok(Box::new(crate::deploy::HostRunner::new(p))),
        Target::Board(board) if !board.is_emulated() => {
            // Probe and port first: a missing board is reported before the build.
            let resolved = crate::flash::resolve(board, &l.connect.connect())?;
            let fw = build_firmware(b, p, board, None)?;
            let log = b.log.then(|| log_printer(&fw)).transpose()?;
            let mut r = crate::deploy::DeviceRunner::start_real(
                board,
                fw,
                &p.graph,
                &p.plan,
                &resolved,
                l.timeout(),
            )?;
            r.set_log_sink(log);
            Ok(Box::new(r))
        }
        Target::Board(board) => {
            let fw = build_firmware(b, p, board, None)?;
            let log = b.log.then(|| log_printer(&fw)).transpose()?;
            let mut r = crate::deploy::DeviceRunner::start(
                board,
                fw,
                &p.graph,
                &p.plan,
                &l.qemu,
                l.timeout(),
            )?;
            r.set_log_sink(log);
            Ok(Box::new(r))
        }
    }
}
