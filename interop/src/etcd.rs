//! A real etcd (Debian's `etcd-server`) for the datastore tests: started
//! inside a network namespace the test made, with a temporary data dir,
//! written with `etcdctl` as Calico's clients write it, stopped and
//! started again on the same data (an outage), killed on drop.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::{run, Proc, TempDir};

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
    tls: Option<Tls>,
}

/// Certificates for etcd over TLS with client authentication, as
/// calico-node's `ETCD_CA_CERT_FILE`, `ETCD_CERT_FILE`, `ETCD_KEY_FILE`.
#[derive(Clone, Debug)]
pub struct Tls {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Tls {
    /// A CA of its own, a server certificate for `ip` and a client
    /// certificate, made with `openssl` in `dir` (P-256 keys, valid a day).
    /// etcd's gateway dials etcd itself with the server's certificate, so
    /// that one is for clients too.
    pub fn make(dir: &TempDir, ip: &str) -> Tls {
        let p = |n: &str| dir.path(n);
        let openssl = |args: &[&str]| {
            let out = run(Command::new("openssl").args(args).current_dir(&dir.0));
            assert!(!out.contains("rror"), "openssl {args:?}: {out}");
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=tern-test-ca",
                ],
            ]
            .concat(),
        );
        for (name, ext) in [
            (
                "server",
                format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth,clientAuth\n"),
            ),
            ("client", "extendedKeyUsage=clientAuth\n".to_string()),
        ] {
            std::fs::write(p(&format!("{name}.ext")), ext).expect("ext file");
            let (key, csr, pem, extf) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            openssl(
                &[
                    &["req"][..],
                    &ec,
                    &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={name}")],
                ]
                .concat(),
            );
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "1",
                "-extfile",
                &extf,
            ]);
        }
        Tls {
            ca: p("ca.pem"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            client_cert: p("client.pem"),
            client_key: p("client.key"),
        }
    }
}

impl Etcd {
    /// etcd on `ip`:2379 inside `ns`, data in `dir`.
    pub fn start(dir: &TempDir, ns: &Netns, ip: &str) -> Etcd {
        Self::start_with(dir, ns, ip, None)
    }

    /// etcd as [`Etcd::start`], over TLS with client certificates when
    /// `tls` is given.
    pub fn start_with(dir: &TempDir, ns: &Netns, ip: &str, tls: Option<Tls>) -> Etcd {
        let mut e = Etcd {
            proc: None,
            ns: ns.name.clone(),
            ip: ip.to_string(),
            data: dir.path("etcd-data"),
            log_dir: dir.0.clone(),
            starts: 0,
            tls,
        };
        e.resume();
        e
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:2379", self.ip)
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
        if let Some(t) = &self.tls {
            c.arg("--cert-file")
                .arg(&t.server_cert)
                .arg("--key-file")
                .arg(&t.server_key)
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--client-cert-auth");
        }
        let log = self.log_dir.join(format!("etcd.{}.log", self.starts));
        self.proc = Some(Proc::spawn("etcd", &mut c, log));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = self.ctl(&["endpoint", "health"]);
            if health.contains("is healthy") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "etcd is not answering: {health}\n{}",
                self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops it (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    fn ctl(&self, args: &[&str]) -> String {
        let url = self.endpoint();
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.ns,
            "etcdctl",
            "--endpoints",
            &url,
            "--command-timeout=5s",
        ]);
        if let Some(t) = &self.tls {
            c.arg("--cacert")
                .arg(&t.ca)
                .arg("--cert")
                .arg(&t.client_cert)
                .arg("--key")
                .arg(&t.client_key);
        }
        run(c.args(args).env("ETCDCTL_API", "3"))
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
