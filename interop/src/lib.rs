//! Harness for running `ternd` against real BGP implementations on
//! loopback: temporary directories, processes stopped by PID on drop,
//! and thin wrappers around each implementation's own CLI.
//!
//! Every test picks its own 127.x.y.z addresses and ports, so tests run in
//! parallel without meeting.

pub mod etcd;
pub mod kernel;
pub mod netns;
pub mod speaker;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "tern-interop-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process stopped (SIGCONT, SIGTERM, then SIGKILL) by its PID on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let f = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("log"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`, and reaped.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/proc/PID/status` field in kB (`VmRSS`, `VmHWM`), 0 when unreadable.
pub fn status_kb(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Peak RSS (kB) and CPU seconds of a process.
pub fn usage(pid: i32) -> (u64, f64) {
    let hwm = status_kb(pid, "VmHWM");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // Fields after the command: state is [0]; utime [11], stime [12] in clock ticks.
    let ticks: u64 =
        f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0) + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf is a plain query.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (hwm, ticks as f64 / hz)
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_every(limit, Duration::from_millis(200), what, f)
}

/// [`wait_for`], asking every `every`: for when the moment is measured.
pub fn wait_every<T>(limit: Duration, every: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(every);
    }
}

/// Runs a command, returns stdout + stderr.
pub fn run(cmd: &mut Command) -> String {
    match cmd.output() {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("cannot run {cmd:?}: {e}"),
    }
}

/// Whether a program is installed.
pub fn installed(bin: &str) -> bool {
    run(Command::new("sh").args(["-c", &format!("command -v {bin}")]))
        .trim()
        .len()
        > 1
}

/// Skips (returns true) when `bins` are missing, unless TERN_REQUIRE_PEERS
/// is set, in which case a missing peer fails the test.
pub fn missing(bins: &[&str]) -> bool {
    let absent: Vec<&&str> = bins.iter().filter(|b| !installed(b)).collect();
    if absent.is_empty() {
        return false;
    }
    assert!(
        std::env::var_os("TERN_REQUIRE_PEERS").is_none(),
        "{absent:?} not installed and TERN_REQUIRE_PEERS is set"
    );
    eprintln!("skipping: {absent:?} not installed");
    true
}

/// The `ternd` binary of this build (`ternc` beside it). `cargo build` runs once per test
/// process so that a test never meets a stale daemon (cargo does not
/// rebuild another package's binaries for this package's tests).
pub fn ternd_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            // target/<profile>/{deps,examples}/<test> or target/<profile>/<bin> → target/<profile>/ternd
            let parent = exe.parent().expect("target dir");
            let dir = if parent.ends_with("deps") || parent.ends_with("examples") {
                parent.parent().expect("target dir")
            } else {
                parent
            }
            .to_path_buf();
            let mut c = Command::new(env!("CARGO"));
            c.args(["build", "--quiet", "-p", "daemon", "--bins"]);
            if dir.ends_with("release") {
                c.arg("--release");
            } else if dir.ends_with("dist") {
                c.args(["--profile", "dist"]);
            }
            let out = run(&mut c);
            let bin = dir.join("ternd");
            assert!(bin.exists(), "cannot build ternd: {out}");
            bin
        })
        .clone()
}

/// `program`, run inside network namespace `ns` when given.
pub fn command_in(ns: Option<&netns::Netns>, program: &str) -> Command {
    match ns {
        Some(ns) => ns.command(program),
        None => Command::new(program),
    }
}

/// A running `ternd`.
pub struct Ternd {
    pub proc: Proc,
    pub ctl: PathBuf,
}

impl Ternd {
    /// Starts ternd with `config` (TOML; `{CTL}` is replaced by its control socket path).
    pub fn start(dir: &TempDir, config: &str) -> Ternd {
        Self::start_in(dir, config, None)
    }

    /// Starts ternd, inside network namespace `ns` when given.
    pub fn start_in(dir: &TempDir, config: &str, ns: Option<&netns::Netns>) -> Ternd {
        Self::start_args(dir, config, ns, &[])
    }

    /// Starts ternd with extra arguments (`-R`, say). A control socket
    /// left by a killed ternd in `dir` is removed first; the log of each
    /// start is kept apart.
    pub fn start_args(dir: &TempDir, config: &str, ns: Option<&netns::Netns>, args: &[&str]) -> Ternd {
        let ctl = dir.path("tern.ctl");
        let _ = std::fs::remove_file(&ctl);
        let cfg = dir.write("tern.toml", &config.replace("{CTL}", &ctl.display().to_string()));
        let mut c = command_in(ns, ternd_bin().to_str().expect("path"));
        c.arg("--config")
            .arg(&cfg)
            .args(args)
            .env("RUST_LOG", "info,daemon=debug");
        let mut log = dir.path("ternd.log");
        let mut n = 1;
        while log.exists() {
            n += 1;
            log = dir.path(&format!("ternd.{n}.log"));
        }
        let proc = Proc::spawn("ternd", &mut c, log);
        wait_for(Duration::from_secs(10), "ternd's control socket", || {
            ctl.exists().then_some(())
        });
        Ternd { proc, ctl }
    }

    /// Starts `ternd --calico` as node `node` of the etcd at `endpoint`,
    /// its sockets in `dir/run`, Felix's endpoint status files in
    /// `dir/endpoint-status`. Its control socket appears once it has a
    /// configuration: this does not wait for it.
    pub fn start_calico(dir: &TempDir, ns: Option<&netns::Netns>, node: &str, endpoint: &str) -> Ternd {
        let run_dir = dir.path("run");
        let ctl = run_dir.join("tern.ctl");
        let _ = std::fs::remove_file(&ctl);
        let mut c = command_in(ns, ternd_bin().to_str().expect("path"));
        c.args(["--calico", "--node", node, "--etcd-endpoints", endpoint, "--ctl-dir"])
            .arg(&run_dir)
            .arg("--endpoint-status")
            .arg(dir.path("endpoint-status"))
            .env("RUST_LOG", "info,daemon=debug")
            .env_remove("CALICO_ROUTER_ID")
            .env_remove("DATASTORE_TYPE");
        let proc = Proc::spawn("ternd", &mut c, dir.path("ternd.log"));
        Ternd { proc, ctl }
    }

    /// A command through the control socket with bird2's `birdc`.
    pub fn birdc(&self, cmd: &str) -> String {
        birdc("birdc", &self.ctl, cmd)
    }

    /// The BGP state (info column) of protocol `name`, e.g. `Established`.
    pub fn bgp_state(&self, name: &str) -> Option<String> {
        let out = self.birdc(&format!("show protocols {name}"));
        out.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(5))
            .map(str::to_string)
    }
}

/// Runs `birdc -s SOCK CMD` with the given client binary.
pub fn birdc(client: &str, sock: &Path, cmd: &str) -> String {
    let mut c = Command::new(client);
    c.arg("-s").arg(sock);
    c.args(split_words(cmd));
    run(&mut c)
}

/// birdc takes the command as separate arguments; quoted parts stay one.
fn split_words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in cmd.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                cur.push(ch);
            }
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A running BIRD 2.
pub struct Bird {
    pub proc: Proc,
    pub ctl: PathBuf,
}

impl Bird {
    pub fn start(dir: &TempDir, conf: &str) -> Bird {
        Self::start_in(dir, conf, None)
    }

    /// Starts BIRD, inside network namespace `ns` when given.
    pub fn start_in(dir: &TempDir, conf: &str, ns: Option<&netns::Netns>) -> Bird {
        Self::start_args(dir, conf, ns, &[])
    }

    /// Starts BIRD with extra arguments (`-R`, say).
    pub fn start_args(dir: &TempDir, conf: &str, ns: Option<&netns::Netns>, args: &[&str]) -> Bird {
        let ctl = dir.path("bird.ctl");
        let _ = std::fs::remove_file(&ctl);
        let log = dir.path("bird.log");
        let text = format!("log \"{}\" all;\n{conf}", log.display());
        let cfg = dir.write("bird.conf", &text);
        let mut c = command_in(ns, "bird");
        c.arg("-f")
            .arg("-c")
            .arg(&cfg)
            .arg("-s")
            .arg(&ctl)
            .arg("-P")
            .arg(dir.path("bird.pid"))
            .args(args);
        let proc = Proc::spawn("bird", &mut c, dir.path("bird.out"));
        // Up means answering: a config error makes BIRD exit, which must
        // fail the test here rather than look like a missing route later.
        let b = Bird { proc, ctl };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !b.birdc("show status").contains("Daemon is up and running") {
            assert!(
                Instant::now() < deadline,
                "BIRD did not start: {}\n{}",
                b.proc.log(),
                text
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    pub fn birdc(&self, cmd: &str) -> String {
        birdc("birdc", &self.ctl, cmd)
    }

    /// The info column's first word for protocol `name`.
    pub fn bgp_state(&self, name: &str) -> Option<String> {
        let out = self.birdc(&format!("show protocols {name}"));
        out.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(5))
            .map(str::to_string)
    }

    pub fn log(&self) -> String {
        let p = self.ctl.with_file_name("bird.log");
        std::fs::read_to_string(p).unwrap_or_default()
    }
}

/// Established TCP connections between two loopback addresses (either way), from `ss`.
pub fn tcp_sessions(a: &str, b: &str) -> usize {
    let out = run(Command::new("ss").args(["-Htn", "state", "established"]));
    out.lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let (l, r) = match cols.as_slice() {
                [.., l, r] => (*l, *r),
                _ => return false,
            };
            (l.starts_with(&format!("{a}:")) && r.starts_with(&format!("{b}:")))
                || (l.starts_with(&format!("{b}:")) && r.starts_with(&format!("{a}:")))
        })
        .count()
        / 2
}

/// A running OpenBGPD (Debian's `openbgpd`, 7.7), a strict peer: `bgpd -d`
/// in a namespace, its control socket in its own directory.
pub struct OpenBgpd {
    pub proc: Proc,
    pub sock: PathBuf,
}

impl OpenBgpd {
    /// Starts bgpd with `conf` (its `socket` line is added here).
    pub fn start_in(dir: &TempDir, conf: &str, ns: &netns::Netns) -> OpenBgpd {
        // bgpd chroots its session engine into its user's home.
        let _ = std::fs::create_dir_all("/run/openbgpd");
        let sock = dir.path("bgpd.sock");
        let _ = std::fs::remove_file(&sock);
        let cfg = dir.write("bgpd.conf", &format!("socket \"{}\"\n{conf}", sock.display()));
        let mut c = ns.command("bgpd");
        c.arg("-d").arg("-f").arg(&cfg);
        let proc = Proc::spawn("openbgpd", &mut c, dir.path("bgpd.log"));
        let b = OpenBgpd { proc, sock };
        wait_for(Duration::from_secs(10), "OpenBGPD's control socket", || {
            b.bgpctl(&["show"]).contains("Neighbor").then_some(())
        });
        b
    }

    /// `bgpctl -s SOCK ARGS…`.
    pub fn bgpctl(&self, args: &[&str]) -> String {
        run(Command::new("bgpctl").arg("-s").arg(&self.sock).args(args))
    }

    /// One counter of `show neighbor NAME`'s statistics: (sent, received).
    pub fn counter(&self, neighbor: &str, name: &str) -> Option<(u64, u64)> {
        let out = self.bgpctl(&["show", "neighbor", neighbor]);
        out.lines().find_map(|l| {
            let rest = l.trim().strip_prefix(name)?;
            let mut n = rest.split_whitespace().filter_map(|x| x.parse().ok());
            Some((n.next()?, n.next()?))
        })
    }
}

/// A running FRR bgpd, standalone (no zebra), with its vty socket in its
/// own directory.
pub struct Frr {
    pub proc: Proc,
    pub vty: PathBuf,
}

impl Frr {
    /// Starts bgpd with `conf`, listening on `listen`:`port`, inside `ns` when given.
    pub fn start_in(dir: &TempDir, conf: &str, listen: &str, port: u16, ns: Option<&netns::Netns>) -> Frr {
        let cfg = dir.write("bgpd.conf", conf);
        let mut c = command_in(ns, "/usr/lib/frr/bgpd");
        c.arg("-f").arg(cfg).args(["-Z", "-n", "-S", "-P", "0"]);
        c.arg("-p").arg(port.to_string()).arg("-l").arg(listen);
        c.arg("-i").arg(dir.path("bgpd.pid")).arg("--vty_socket").arg(&dir.0);
        Frr {
            proc: Proc::spawn("bgpd", &mut c, dir.path("bgpd.log")),
            vty: dir.0.clone(),
        }
    }

    /// A vtysh command (the vty socket is a file: no namespace needed).
    pub fn vtysh(&self, cmd: &str) -> String {
        vtysh(&self.vty, cmd)
    }
}

/// `vtysh -c CMD` against the bgpd whose vty socket is in `vty`.
pub fn vtysh(vty: &Path, cmd: &str) -> String {
    run(Command::new("vtysh")
        .arg("--vty_socket")
        .arg(vty)
        .args(["-d", "bgpd", "-c", cmd]))
}

/// BIRD 1.6.8, unpacked from Debian's `bird` package by the test command
/// (`BIRD16_BIRD` names another).
pub fn bird16() -> String {
    std::env::var("BIRD16_BIRD").unwrap_or_else(|_| "/opt/tern-bird1.6/usr/sbin/bird".into())
}

/// A benchmark's comma-separated argument, or `default`.
pub fn arg_list(arg: Option<&String>, default: &str) -> Vec<String> {
    arg.map_or(default, |s| s.as_str())
        .split(',')
        .map(str::to_string)
        .collect()
}

/// Rounds per benchmark case (`TERN_BENCH_RUNS`, at least 1): this VM's
/// speed drifts, so cases take turns and each one's median round counts.
pub fn bench_runs() -> usize {
    std::env::var("TERN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// The round with the median time `took` (a failed round, `None`, counts
/// as slowest); `None` when there was no round.
pub fn median_round<T>(mut rounds: Vec<T>, took: impl Fn(&T) -> Option<Duration>) -> Option<T> {
    rounds.sort_by_key(|r| took(r).unwrap_or(Duration::MAX));
    let mid = rounds.len().checked_sub(1)? / 2;
    rounds.into_iter().nth(mid)
}
