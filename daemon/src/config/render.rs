//! A [`Config`] written back as the TOML file [`super::toml`] reads: what
//! `ternd calico render` prints. Every field is written, defaults
//! included, so the file says all the node will do; reading it back gives
//! the same configuration (a test holds this).

use std::fmt::Write as _;

use rib::fib::Encap;

use super::model::Config;

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn encap(e: Encap) -> &'static str {
    match e {
        Encap::Never => "never",
        Encap::Always => "always",
        Encap::CrossSubnet => "cross-subnet",
    }
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| q(&s)).collect();
    format!("[{}]", v.join(", "))
}

/// The configuration as TOML.
pub fn to_toml(c: &Config) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "router_id = {}", q(&c.router_id.to_string()));
    let _ = writeln!(o, "asn = {}", c.asn.0);
    let _ = writeln!(o, "listen = {}", list(c.listen.iter().map(|l| l.to_string())));
    let _ = writeln!(o, "ctl_socket = {}", q(&c.ctl_socket.display().to_string()));
    if let Some(m) = c.metrics_listen {
        let _ = writeln!(o, "metrics_listen = {}", q(&m.to_string()));
    }
    if let Some(id) = c.cluster_id {
        let _ = writeln!(o, "cluster_id = {}", q(&id.0.to_string()));
    }
    if !c.local_subnets.is_empty() {
        let _ = writeln!(
            o,
            "local_subnets = {}",
            list(c.local_subnets.iter().map(|p| p.to_string()))
        );
    }
    let _ = writeln!(o, "graceful_restart_wait = {}", c.graceful_restart_wait.as_secs());
    if let Some(k) = &c.kernel {
        let _ = write!(
            o,
            "\n[kernel]\ntable = {}\nprotocol = {}\nlearn = {}\npersist = {}\nmerge_paths = {}\nprogram_pool_routes = {}\n",
            k.table, k.protocol, k.learn, k.persist, k.merge_paths, k.program_pool_routes
        );
    }
    for p in &c.pools {
        let _ = write!(
            o,
            "\n[[pool]]\ncidr = {}\nipip = {}\nvxlan = {}\nexport = {}\n",
            q(&p.cidr.to_string()),
            q(encap(p.ipip)),
            q(encap(p.vxlan)),
            p.export
        );
    }
    for a in &c.advertise {
        let cs = a
            .communities
            .iter()
            .map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff))
            .chain(
                a.large
                    .iter()
                    .map(|l| format!("{}:{}:{}", l.global, l.local1, l.local2)),
            );
        let _ = write!(
            o,
            "\n[[advertise]]\nprefix = {}\ncommunities = {}\n",
            q(&a.prefix.to_string()),
            list(cs)
        );
    }
    for s in &c.statics {
        let _ = write!(o, "\n[[static]]\nprefix = {}\n", q(&s.prefix.to_string()));
        match s.via {
            Some(v) => {
                let _ = writeln!(o, "via = {}", q(&v.to_string()));
            }
            None => o.push_str("blackhole = true\n"),
        }
        if !s.communities.is_empty() {
            let cs = s.communities.iter().map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff));
            let _ = writeln!(o, "communities = {}", list(cs));
        }
        if let Some(lp) = s.local_pref {
            let _ = writeln!(o, "local_pref = {lp}");
        }
        if s.export {
            o.push_str("export = true\n");
        }
    }
    for p in &c.peers {
        let addr = match &p.interface {
            Some(i) => format!("{}%{i}", p.address),
            None => p.address.to_string(),
        };
        let _ = write!(
            o,
            "\n[[peer]]\nname = {}\naddress = {}\nport = {}\nasn = {}\n",
            q(&p.name),
            q(&addr),
            p.port,
            p.asn.0
        );
        if let Some(l) = p.local_asn {
            let _ = writeln!(o, "local_asn = {}", l.0);
        }
        if let Some(l) = p.local_address {
            let _ = writeln!(o, "local_address = {}", q(&l.to_string()));
        }
        let _ = writeln!(o, "passive = {}\nhold_time = {}", p.passive, p.hold_time);
        if let Some(k) = p.keepalive {
            let _ = writeln!(o, "keepalive = {k}");
        }
        let _ = writeln!(
            o,
            "connect_retry = {}\nerror_wait = [{}, {}]",
            p.connect_retry.as_secs(),
            p.error_wait.0.as_secs(),
            p.error_wait.1.as_secs()
        );
        if let Some(pw) = &p.password {
            let _ = writeln!(o, "password = {}", q(pw));
        }
        if let Some(t) = p.ttl_security {
            let _ = writeln!(o, "ttl_security = {t}");
        }
        if let Some(d) = &p.description {
            let _ = writeln!(o, "description = {}", q(d));
        }
        if let Some(g) = p.graceful_restart {
            let _ = writeln!(o, "graceful_restart = {g}");
        }
        let _ = writeln!(
            o,
            "add_path = {}\nrr_client = {}\nnext_hop = {}\nallow_local_as = {}",
            p.add_path,
            p.rr_client,
            q(if p.next_hop_self { "self" } else { "keep" }),
            p.allow_local_as
        );
        if let Some(a) = p.local_address6 {
            let _ = writeln!(o, "local_address6 = {}", q(&a.to_string()));
        }
        if let Some(a) = p.local_address4 {
            let _ = writeln!(o, "local_address4 = {}", q(&a.to_string()));
        }
        if let Some(l) = &p.max_prefixes {
            let _ = writeln!(o, "max_prefixes = {}", l.max);
            let action = match l.action {
                super::model::LimitAction::Warn => "warn",
                super::model::LimitAction::Cease => "cease",
            };
            let _ = writeln!(o, "max_prefixes_action = {}", q(action));
            if let Some(r) = l.restart {
                let _ = writeln!(o, "max_prefixes_restart = {}", r.as_secs());
            }
        }
        if let Some(f) = &p.import {
            super::filter::render(&mut o, "import", f);
        }
        if let Some(f) = &p.export {
            super::filter::render(&mut o, "export", f);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_reads_back_as_itself() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/configs/ternd.toml");
        let c = crate::config::load(&path).unwrap();
        let text = to_toml(&c);
        assert_eq!(crate::config::parse("rendered", &text).unwrap(), c, "{text}");
    }
}
