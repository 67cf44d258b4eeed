//! `kairos serve` as a network service: remote names it is told to accept, health that still
//! answers while many slow clients hold connections open, and a prompt exit on SIGTERM even
//! with a browser's event stream open.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `kairos serve`, killed when dropped.
struct Serve {
    child: Child,
    /// The URL it printed, without the token.
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .arg("--db")
        .arg(dir.path().join("kairos.db"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (url, token) = line.trim().split_once("/?token=").expect("the admin URL");
    Serve {
        url: url.to_string(),
        token: token.to_string(),
        child,
        _dir: dir,
    }
}

/// The port the server listens on (from `ss`, as a remote URL does not show it).
fn port_of(pid: u32) -> u16 {
    let out = Command::new("ss").args(["-ltnpH"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(&format!("pid={pid},")))
        .expect("the server's listening socket");
    let local = line.split_whitespace().nth(3).unwrap();
    local.rsplit(':').next().unwrap().parse().unwrap()
}

/// The status of `GET /api/scheduler` on port `port` naming `host`.
fn status_as(port: u16, host: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/scheduler"))
        .header("Host", host)
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn remote_access_accepts_the_names_it_is_given() {
    let s = serve(&[
        "--bind",
        "0.0.0.0:0",
        "--allow-remote",
        "--allowed-host",
        "kairos.lan",
        "--public-url",
        "https://kairos.example.com/",
    ]);
    assert_eq!(
        s.url, "https://kairos.example.com",
        "the URL a remote browser uses"
    );
    let port = port_of(s.child.id());
    assert_eq!(
        status_as(port, &format!("kairos.lan:{port}"), &s.token),
        200
    );
    assert_eq!(status_as(port, "kairos.example.com", &s.token), 200);
    assert_eq!(status_as(port, &format!("127.0.0.1:{port}"), &s.token), 200);
    assert_eq!(
        status_as(port, &format!("evil.example:{port}"), &s.token),
        403
    );

    // Without --allow-remote the names are refused outright.
    let out = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["serve", "--allowed-host", "kairos.lan"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --allow-remote"));
}

/// Lets this process (and the server it starts) open a few thousand sockets.
fn raise_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max.min(8192);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

#[test]
fn health_answers_while_a_thousand_clients_dawdle_over_their_headers() {
    raise_open_files();
    let s = serve(&["--bind", "127.0.0.1:0"]);
    let addr = s.url.trim_start_matches("http://").to_string();
    let slow: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut socket = TcpStream::connect(&addr).unwrap();
            // Half a request, never finished.
            write!(socket, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
            socket
        })
        .collect();
    let health = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.url))
        .send()
        .expect("/healthz answers");
    assert_eq!(health.status(), 200);
    drop(slow);
}

#[test]
fn sigterm_stops_the_server_promptly_with_an_event_stream_open() {
    let mut s = serve(&["--bind", "127.0.0.1:0"]);
    let port = s
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| port_of(s.child.id()));
    // A browser tab's live view: an open SSE connection that never ends by itself.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token
    )
    .unwrap();
    let mut head = String::new();
    BufReader::new(stream.try_clone().unwrap())
        .read_line(&mut head)
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let started = std::time::Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM with an event stream open"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    drop(stream);
}
