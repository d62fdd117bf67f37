//! QEMU sessions: spawn, find the pty, and make sure QEMU never outlives kiln.
//!
//! Three layers keep QEMU from being left behind:
//! - [`QemuSession`]'s `Drop` kills and reaps it (also when a test or a command fails);
//! - a Ctrl-C handler ([`install_interrupt_handler`], installed by the first spawn) kills every
//!   registered QEMU before the process exits with status 130; QEMU runs in its own process
//!   group, so the terminal's SIGINT reaches only kiln;
//! - on Linux, QEMU gets `PR_SET_PDEATHSIG = SIGKILL`: it dies with the thread that spawned it
//!   even when kiln itself is killed. So spawn from a thread that lives as long as the
//!   session (the main thread, a test's thread), not from a short-lived helper thread.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::TTYPort;

use super::{Device, LinkError, LinkOptions};

/// How to start QEMU for one board and one firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    /// The emulator (default `qemu-system-arm`, looked up on `PATH`).
    pub binary: PathBuf,
    /// `-M`, e.g. `mps2-an386`.
    pub machine: String,
    /// `-cpu`, e.g. `cortex-m4`.
    pub cpu: String,
    /// The firmware ELF (`-kernel`).
    pub elf: PathBuf,
}

impl QemuConfig {
    pub fn new(
        machine: impl Into<String>,
        cpu: impl Into<String>,
        elf: impl Into<PathBuf>,
    ) -> Self {
        QemuConfig {
            binary: PathBuf::from("qemu-system-arm"),
            machine: machine.into(),
            cpu: cpu.into(),
            elf: elf.into(),
        }
    }

    /// QEMU's arguments with UART0 on the `-serial` backend `serial` (`pty`, `file:PATH`, ...):
    /// no display or monitor, one instruction per virtual nanosecond (`-icount shift=0`),
    /// semihosting for exit codes and panic messages.
    pub fn args(&self, serial: &str) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "-M",
            &self.machine,
            "-cpu",
            &self.cpu,
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            serial,
            "-icount",
            "shift=0",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        args.push(self.elf.clone().into_os_string());
        args
    }
}

/// Process ids of live QEMU children, for the Ctrl-C handler. A pid leaves the registry
/// before its process is reaped, so a pid here is never a recycled one.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<u32>> {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every QEMU this process started and has not stopped yet. For a CLI that installs
/// its own Ctrl-C handler: call this from it.
pub fn kill_all_qemu() {
    for pid in registry().drain(..) {
        // SAFETY: plain syscall. QEMU leads its own process group (pgid == pid).
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
}

/// Installs (once per process) a Ctrl-C handler that kills every registered QEMU, then exits
/// with status 130. Returns `false` when another handler was installed first: that handler
/// should call [`kill_all_qemu`].
pub fn install_interrupt_handler() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            kill_all_qemu();
            std::process::exit(130);
        })
        .is_ok()
    })
}

/// Keeps this much of QEMU's own output (semihosting panic messages, QEMU's errors).
const OUTPUT_LIMIT: usize = 64 * 1024;

/// A running QEMU process, shared with the output readers and a [`Device`]'s diagnosis.
struct Qemu {
    pid: u32,
    child: Mutex<Child>,
    output: Arc<Mutex<String>>,
    readers: Mutex<Vec<JoinHandle<()>>>,
}

impl Qemu {
    fn spawn(
        cfg: &QemuConfig,
        serial: &str,
    ) -> Result<(Arc<Qemu>, mpsc::Receiver<PathBuf>), LinkError> {
        install_interrupt_handler();
        let mut cmd = Command::new(&cfg.binary);
        cmd.args(cfg.args(serial))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // Spawn and register under the registry lock, so a Ctrl-C cannot fall in between.
        let mut registry = registry();
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                LinkError::QemuNotFound {
                    binary: cfg.binary.clone(),
                }
            } else {
                LinkError::QemuSpawn {
                    binary: cfg.binary.clone(),
                    source,
                }
            }
        })?;
        registry.push(child.id());
        drop(registry);

        let output = Arc::new(Mutex::new(String::new()));
        let (pty_tx, pty_rx) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(read_lines(stdout, output.clone(), Some(pty_tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(read_lines(stderr, output.clone(), None));
        }
        let qemu = Arc::new(Qemu {
            pid: child.id(),
            child: Mutex::new(child),
            output,
            readers: Mutex::new(readers),
        });
        Ok((qemu, pty_rx))
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_wait(&self) -> Option<ExitStatus> {
        self.child().try_wait().ok().flatten()
    }

    fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// QEMU's output so far; after it exited, all of it.
    fn output(&self) -> String {
        if self.try_wait().is_some() {
            let readers =
                std::mem::take(&mut *self.readers.lock().unwrap_or_else(|e| e.into_inner()));
            for reader in readers {
                let _ = reader.join();
            }
        }
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn exited(&self, during: &str) -> Option<LinkError> {
        let status = self.try_wait()?;
        Some(LinkError::QemuExited {
            status: status.to_string(),
            during: during.to_string(),
            output: self.output(),
        })
    }

    /// Kills and reaps QEMU (idempotent).
    fn stop(&self) {
        registry().retain(|&pid| pid != self.pid);
        let mut child = self.child();
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies `stream` line by line into `output`; the first `char device redirected to PATH`
/// line goes to `pty` instead.
fn read_lines(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    mut pty: Option<mpsc::Sender<PathBuf>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(path) = pty.as_ref().and_then(|_| parse_pty(&text)) {
                if let Some(tx) = pty.take() {
                    let _ = tx.send(path);
                }
                continue;
            }
            let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
            if out.len() + text.len() <= OUTPUT_LIMIT {
                out.push_str(&text);
            }
        }
    })
}

/// `char device redirected to /dev/pts/3 (label serial0)` → `/dev/pts/3`.
fn parse_pty(line: &str) -> Option<PathBuf> {
    let rest = line.split("char device redirected to ").nth(1)?;
    let path = rest.split_whitespace().next()?;
    path.starts_with("/dev/").then(|| PathBuf::from(path))
}

/// A running QEMU whose UART0 is a pty. Dropping the session kills and reaps QEMU.
pub struct QemuSession {
    qemu: Arc<Qemu>,
    pty: PathBuf,
    startup: Duration,
}

impl QemuSession {
    /// Starts QEMU and waits (up to 10 s) for it to report its pty.
    pub fn spawn(cfg: &QemuConfig) -> Result<QemuSession, LinkError> {
        Self::spawn_with_timeout(cfg, Duration::from_secs(10))
    }

    pub fn spawn_with_timeout(
        cfg: &QemuConfig,
        startup_timeout: Duration,
    ) -> Result<QemuSession, LinkError> {
        let started = Instant::now();
        let (qemu, pty_rx) = Qemu::spawn(cfg, "pty")?;
        match pty_rx.recv_timeout(startup_timeout) {
            Ok(pty) => Ok(QemuSession {
                qemu,
                pty,
                startup: started.elapsed(),
            }),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                qemu.stop();
                Err(LinkError::Timeout {
                    what: "QEMU to report its serial pty".into(),
                    after: startup_timeout,
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stdout closed without a pty line: QEMU is exiting (bad machine, bad ELF...).
                qemu.wait_timeout(Duration::from_secs(5));
                let err = qemu
                    .exited("before reporting its serial pty")
                    .unwrap_or_else(|| LinkError::Timeout {
                        what: "QEMU to report its serial pty".into(),
                        after: started.elapsed(),
                    });
                qemu.stop();
                Err(err)
            }
        }
    }

    /// The pty that is the board's UART0.
    pub fn pty(&self) -> &Path {
        &self.pty
    }

    pub fn pid(&self) -> u32 {
        self.qemu.pid
    }

    /// From spawning QEMU to its pty being known.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Opens the pty exactly as a real serial port is opened.
    pub fn open_port(&self) -> Result<TTYPort, LinkError> {
        serialport::new(self.pty.to_string_lossy(), 115_200)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(|source| LinkError::OpenPort {
                path: self.pty.clone(),
                source,
            })
    }

    /// Opens the pty and wraps it in a [`Device`] whose link errors become
    /// [`LinkError::QemuExited`] (with QEMU's output, e.g. a firmware panic message) when QEMU
    /// has exited.
    pub fn connect(&self, options: LinkOptions) -> Result<Device<TTYPort>, LinkError> {
        let mut device = Device::with_options(self.open_port()?, options);
        let qemu = self.qemu.clone();
        device.set_diagnose(Box::new(move || qemu.exited("while the link was in use")));
        Ok(device)
    }

    /// QEMU's own output so far (its errors; semihosting output of the firmware).
    pub fn output(&self) -> String {
        self.qemu.output()
    }

    /// QEMU's exit status, if it has exited.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.qemu.try_wait()
    }

    /// Waits up to `timeout` for QEMU to exit by itself.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        self.qemu.wait_timeout(timeout)
    }

    /// Kills and reaps QEMU now (dropping the session does the same).
    pub fn stop(self) {}
}

impl Drop for QemuSession {
    fn drop(&mut self) {
        self.qemu.stop();
    }
}

/// A finished QEMU run (see [`run_to_exit`]).
#[derive(Debug)]
pub struct QemuRun {
    pub status: ExitStatus,
    /// Everything the firmware wrote to UART0.
    pub serial: Vec<u8>,
    /// QEMU's own output (its errors; semihosting output).
    pub output: String,
    pub elapsed: Duration,
}

/// Runs firmware that exits by itself (e.g. a `--selftest` build) with UART0 going to a file;
/// kills it after `timeout`.
pub fn run_to_exit(cfg: &QemuConfig, timeout: Duration) -> Result<QemuRun, LinkError> {
    let io = |doing: &str| {
        let doing = doing.to_string();
        move |source| LinkError::Io { doing, source }
    };
    let dir = tempfile::tempdir().map_err(io("creating a folder for the serial output"))?;
    let serial_path = dir.path().join("uart0.out");
    let started = Instant::now();
    let (qemu, _pty) = Qemu::spawn(cfg, &format!("file:{}", serial_path.display()))?;
    let Some(status) = qemu.wait_timeout(timeout) else {
        qemu.stop();
        return Err(LinkError::Timeout {
            what: "the firmware to exit QEMU".into(),
            after: timeout,
        });
    };
    let elapsed = started.elapsed();
    let output = qemu.output();
    qemu.stop();
    let serial = std::fs::read(&serial_path).map_err(io("reading the serial output"))?;
    Ok(QemuRun {
        status,
        serial,
        output,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_pty_line() {
        assert_eq!(
            parse_pty("char device redirected to /dev/pts/7 (label serial0)\n"),
            Some(PathBuf::from("/dev/pts/7"))
        );
        assert_eq!(parse_pty("qemu-system-arm: warning: something"), None);
    }

    #[test]
    fn command_line() {
        let cfg = QemuConfig::new("mps2-an386", "cortex-m4", "/tmp/fw.elf");
        let args: Vec<String> = cfg
            .args("pty")
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "-M mps2-an386 -cpu cortex-m4 -display none -monitor none -serial pty \
             -icount shift=0 -semihosting-config enable=on,target=native -kernel /tmp/fw.elf"
        );
    }
}
