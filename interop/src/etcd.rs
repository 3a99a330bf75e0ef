//! A real etcd (Debian's `etcd-server`) for the datastore tests: started
//! inside a network namespace the test made, with a temporary data dir,
//! written with `etcdctl` as Calico's clients write it, stopped and
//! started again on the same data (an outage), killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::{run, wait_for, Proc, TempDir};

/// When a write happened: after `before`, by `after`.
#[derive(Clone, Copy, Debug)]
pub struct Written {
    pub before: Instant,
    pub after: Instant,
}

pub struct Etcd {
    proc: Option<Proc>,
    ns: String,
    ip: String,
    data: std::path::PathBuf,
    log_dir: std::path::PathBuf,
    starts: usize,
}

impl Etcd {
    /// etcd on `ip`:2379 inside `ns`, data in `dir`.
    pub fn start(dir: &TempDir, ns: &Netns, ip: &str) -> Etcd {
        let mut e = Etcd {
            proc: None,
            ns: ns.name.clone(),
            ip: ip.to_string(),
            data: dir.path("etcd-data"),
            log_dir: dir.0.clone(),
            starts: 0,
        };
        e.resume();
        e
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}:2379", self.ip)
    }

    /// Starts it (again, on the same data) and waits until it answers.
    pub fn resume(&mut self) {
        self.starts += 1;
        let url = self.endpoint();
        let peer = "http://127.0.0.1:2380";
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "etcd", "--name", "tern-test"])
            .arg("--data-dir")
            .arg(&self.data)
            .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
            .args(["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer])
            .args(["--initial-cluster", &format!("tern-test={peer}")]);
        let log = self.log_dir.join(format!("etcd.{}.log", self.starts));
        self.proc = Some(Proc::spawn("etcd", &mut c, log));
        wait_for(Duration::from_secs(20), "etcd answering", || {
            self.ctl(&["endpoint", "health"]).contains("is healthy").then_some(())
        });
    }

    /// Stops it (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    fn ctl(&self, args: &[&str]) -> String {
        let url = self.endpoint();
        run(Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "etcdctl",
                "--endpoints",
                &url,
                "--command-timeout=5s",
            ])
            .args(args)
            .env("ETCDCTL_API", "3"))
    }

    /// Writes `key`; etcd has it somewhere between the two instants
    /// returned (etcdctl's start and its exit).
    pub fn put(&self, key: &str, value: &str) -> Written {
        let before = Instant::now();
        let out = self.ctl(&["put", key, value]);
        assert!(out.trim() == "OK", "etcdctl put {key}: {out}");
        Written {
            before,
            after: Instant::now(),
        }
    }

    /// Writes `key` with a gRPC client of our own (in etcd's namespace,
    /// connected before the clock starts): `before` and `after` bound the
    /// request itself, a millisecond apart rather than etcdctl's start.
    pub fn put_timed(&self, key: &str, value: &str) -> Written {
        let (key, value, url) = (key.to_string(), value.to_string(), self.endpoint());
        let path = std::path::PathBuf::from("/var/run/netns").join(&self.ns);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("netns file");
            use std::os::fd::AsRawFd;
            // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut c = etcdv3client::EtcdClient::new(vec![url.as_str()], None)
                    .await
                    .expect("etcd client");
                // One request first: the channel is up before the clock.
                let _ = c.get("/tern-bench-warmup").await;
                let before = Instant::now();
                c.put(key.as_bytes().to_vec(), value.as_bytes().to_vec())
                    .await
                    .expect("etcd put");
                Written {
                    before,
                    after: Instant::now(),
                }
            })
        })
        .join()
        .expect("etcd writer thread")
    }

    pub fn delete(&self, key: &str) -> Written {
        let before = Instant::now();
        let out = self.ctl(&["del", key]);
        assert!(out.trim() == "1", "etcdctl del {key}: {out}");
        Written {
            before,
            after: Instant::now(),
        }
    }
}
