//! `kairos serve`: the scheduler with the web admin and the REST + SSE API on loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use kairos_core::scheduler::Scheduler;
use kairos_server::{load_or_create_token, router, DatabaseHost, ServerConfig};

/// Where `kairos serve` listens unless told otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";

/// Who else may reach the server: `--allow-remote`, `--public-url`, `--allowed-host`.
pub struct Remote {
    /// A non-loopback bind is allowed.
    pub allow: bool,
    /// The URL remote browsers use.
    pub public_url: Option<String>,
    /// More names of this machine, `HOST` or `HOST:PORT`.
    pub hosts: Vec<String>,
}

impl Remote {
    /// The `Host` values to accept besides loopback's for a server on `port` of `machine`,
    /// and the URL to print (`None`: the bound address's).
    fn names(
        &self,
        machine: &str,
        local: SocketAddr,
    ) -> Result<(Vec<String>, Option<String>), String> {
        if !self.allow {
            if self.public_url.is_some() || !self.hosts.is_empty() {
                return Err("--public-url and --allowed-host need --allow-remote".into());
            }
            return Ok((vec![], None));
        }
        let port = local.port();
        let with_port = |host: &str| {
            let bracketed = host.starts_with('[');
            let has_port = if bracketed {
                host.contains("]:")
            } else {
                host.contains(':')
            };
            if has_port {
                host.to_string()
            } else {
                format!("{host}:{port}")
            }
        };
        let mut names = Vec::new();
        for host in &self.hosts {
            let host = host.trim();
            if host.is_empty() || host.contains(['/', ' ', '@']) {
                return Err(format!("--allowed-host: '{host}' is not HOST or HOST:PORT"));
            }
            names.push(with_port(host));
        }
        let url = match &self.public_url {
            Some(url) => {
                let authority = url
                    .strip_prefix("http://")
                    .or_else(|| url.strip_prefix("https://"))
                    .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""))
                    .filter(|a| !a.is_empty() && !a.contains('@'))
                    .ok_or_else(|| {
                        format!("--public-url: '{url}' is not an http:// or https:// URL")
                    })?;
                // A URL without a port is reached on the scheme's port (a proxy's).
                names.push(authority.to_string());
                Some(url.trim_end_matches('/').to_string())
            }
            None => None,
        };
        names.push(format!("{machine}:{port}"));
        if !local.ip().is_unspecified() {
            names.push(local.to_string());
        }
        let url = url.or_else(|| {
            local
                .ip()
                .is_unspecified()
                .then(|| format!("http://{machine}:{port}"))
        });
        Ok((names, url))
    }
}

/// Runs the scheduler and the API on the database at `db` until SIGINT or SIGTERM.
pub fn run(
    db: &Path,
    database: Arc<dyn DatabaseHost>,
    bind: &str,
    remote: &Remote,
    labels: Vec<String>,
) -> Result<(), String> {
    if let Some(bad) = labels
        .iter()
        .find(|l| l.trim().is_empty() || l.len() > 64 || l.chars().any(char::is_control))
    {
        return Err(format!(
            "--label: '{bad}' is not a label (1-64 characters, no control characters)"
        ));
    }
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("--bind: '{bind}' is not an address such as 127.0.0.1:7878"))?;
    if !addr.ip().is_loopback() && !remote.allow {
        return Err(format!(
            "--bind: {addr} is reachable from other machines; pass --allow-remote to serve them (the token is then their only barrier)"
        ));
    }
    // Bad names are refused before anything starts.
    remote.names("localhost", addr)?;
    let store = crate::job_cmd::open_store(db)?;
    let dir = crate::state_dir(db);
    let token = load_or_create_token(&dir)
        .map_err(|e| format!("cannot keep the API token in {}: {e}", dir.display()))?;
    let runtime = kairos_core::scheduler::runtime().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--bind: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        // Before anything runs: a SIGTERM from now on is a graceful shutdown.
        let stop = kairos_core::scheduler::stop_signal();
        let scheduler = Scheduler::new(store);
        scheduler.set_node_labels(labels);
        scheduler.start().map_err(|e| e.to_string())?;
        let port = local.port();
        let mut allowed_hosts = vec![
            local.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        let (remote_names, public_url) = remote.names(&scheduler.node().host, local)?;
        allowed_hosts.extend(remote_names);
        allowed_hosts.sort();
        allowed_hosts.dedup();
        let app = router(
            scheduler.clone(),
            ServerConfig {
                token: token.clone(),
                allowed_hosts,
                database,
            },
        );
        let node = scheduler.node();
        eprintln!(
            "Kairos is scheduling jobs from {} as node {} on {}",
            kairos_core::store::shown_location(db),
            node.id,
            node.host
        );
        eprintln!(
            "Open the admin (the token is kept in {}):",
            dir.join("token").display()
        );
        let url = public_url.unwrap_or_else(|| format!("http://{local}"));
        scheduler.set_alert_link_base(Some(url.clone()));
        println!("{url}/?token={token}");
        kairos_server::serve(listener, app, stop).await;
        eprintln!(
            "Shutting down: waiting up to {} s for running jobs",
            kairos_core::scheduler::SHUTDOWN_GRACE.as_secs()
        );
        scheduler
            .shutdown(kairos_core::scheduler::SHUTDOWN_GRACE)
            .await;
        Ok(())
    })
}
