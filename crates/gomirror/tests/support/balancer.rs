//! A load balancer in front of a fleet of replicas: a private nginx (see
//! [`super::nginx`]) doing round robin over loopback backends, caching
//! nothing and buffering nothing.

use super::nginx::Nginx;
use std::time::{Duration, Instant};

/// Path nginx answers itself with the generation of its configuration
/// (how [`Balancer::set_backends`] knows the new one serves). Go module
/// paths never start with a dot, so no proxy request ever uses it.
pub const GENERATION_PATH: &str = "/.balancer/generation";

/// A running balancer on 127.0.0.1, killed on drop. Every response carries
/// `X-Upstream-Addr` (the backend that answered, nginx's
/// `$upstream_addr`); the access log names it too.
pub struct Balancer {
    nginx: Nginx,
    backends: Vec<String>,
    generation: u64,
}

impl Balancer {
    /// Starts the balancer over `backends` (`http://127.0.0.1:port` or
    /// `127.0.0.1:port`; none: every request gets 502).
    pub fn start<S: AsRef<str>>(backends: &[S]) -> Balancer {
        let backends = normalize(backends);
        let b = backends.clone();
        let nginx = Nginx::start(true, move |_, port| http_conf(port, &b, 1));
        let bal = Balancer {
            nginx,
            backends,
            generation: 1,
        };
        bal.wait_generation();
        bal
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.nginx.addr())
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.nginx.addr()
    }

    /// The backends (`127.0.0.1:port`), in configuration order.
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// Replaces the backends (reloading nginx: requests in flight finish on
    /// the old configuration) and waits (≤ 10 s) until the new
    /// configuration answers.
    pub fn set_backends<S: AsRef<str>>(&mut self, backends: &[S]) {
        self.backends = normalize(backends);
        self.generation += 1;
        self.nginx.reload(&http_conf(
            self.nginx.port(),
            &self.backends,
            self.generation,
        ));
        self.wait_generation();
    }

    /// The access log so far: one line per request, `upstream=<addr>`
    /// naming the backend(s) tried.
    pub fn access_log(&self) -> String {
        self.nginx.access_log()
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        self.nginx.error_log()
    }

    fn wait_generation(&self) {
        let want = self.generation.to_string();
        let start = Instant::now();
        loop {
            let got = super::http10_get(&self.addr(), GENERATION_PATH, &[]);
            if let Ok((200, _, body)) = &got {
                if String::from_utf8_lossy(body).trim() == want {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the balancer does not serve configuration {want} after 10 s (last answer: {:?}); \
                 its error log:\n{}",
                got.map(|(s, _, b)| (s, String::from_utf8_lossy(&b).into_owned())),
                super::tail(&self.error_log(), 40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn normalize<S: AsRef<str>>(backends: &[S]) -> Vec<String> {
    backends
        .iter()
        .map(|b| {
            let b = b.as_ref();
            let b = b.strip_prefix("http://").unwrap_or(b);
            b.trim_end_matches('/').to_owned()
        })
        .collect()
}

/// The inside of nginx's `http { }`: round robin over `backends`, a
/// backend that fails a connection is skipped (for 1 s) and the request
/// tried on the next one, the way a load balancer in front of a fleet
/// behaves.
fn http_conf(port: u16, backends: &[String], generation: u64) -> String {
    let servers: String = if backends.is_empty() {
        // An upstream needs a server: one marked down (every request 502).
        "        server 127.0.0.1:9 down;\n".into()
    } else {
        backends
            .iter()
            .map(|b| format!("        server {b} max_fails=1 fail_timeout=1s;\n"))
            .collect()
    };
    format!(
        r#"    log_format balancer '$remote_addr "$request" $status $body_bytes_sent upstream=$upstream_addr upstream_status=$upstream_status';
    upstream fleet {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        access_log logs/access.log balancer;
        client_max_body_size 0;
        location = {GENERATION_PATH} {{
            access_log off;
            return 200 "{generation}\n";
        }}
        location / {{
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
            add_header X-Upstream-Addr $upstream_addr always;
        }}
    }}"#
    )
}
