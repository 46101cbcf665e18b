//! A sync, thread-per-request HTTP server whose service layer awaits an async client.
//!
//! The gateway (`tiny_http`, one thread per request) calls `gateway.fetch(id)`, the blocking
//! entry of an `async fn` over one shared `reqwest::Client`; the upstream is an Axum app
//! started in-process. Everything listens on loopback.
//!
//! ```text
//! cargo run --example gateway              # a short demo: requests, then the counts
//! cargo run --example gateway -- --serve   # keep serving on 127.0.0.1:3001 until Ctrl-C
//! ```
//!
//! The demo's last line is
//! `gateway: requests=<n> ok=<n> server_threads=<n> upstream_connections=<n>`: every request ran on
//! its own server thread, yet the upstream saw only a handful of TCP connections, because
//! the client's pool (kept alive by smartasync's process-wide runtime) is shared by them all.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;

use clap::Parser;
use smartasync_examples::gateway::{
    DEFAULT_MAX_THREADS, Gateway, GatewayServer, HttpReply, THREAD_HEADER, Upstream, http_get,
    http_request,
};

#[derive(Parser)]
#[command(about = "A sync HTTP gateway over an async client (reqwest), on loopback")]
struct Args {
    /// Keep serving until Ctrl-C instead of running the demo.
    #[arg(long)]
    serve: bool,
    /// Where the gateway listens with --serve (the demo picks a free port).
    #[arg(long, default_value = "127.0.0.1:3001")]
    addr: SocketAddr,
    /// Most request threads at once.
    #[arg(long, default_value_t = DEFAULT_MAX_THREADS)]
    max_threads: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let upstream = Upstream::start()?;
    let gateway = Gateway::new(&upstream.url())?;
    let addr = if args.serve {
        args.addr
    } else {
        "127.0.0.1:0".parse()?
    };
    let server = GatewayServer::start(addr, gateway, args.max_threads)?;
    println!("upstream (Axum, in-process)   {}", upstream.url());
    println!(
        "gateway  (tiny_http, sync)    {}  (a thread per request)",
        server.url()
    );

    if args.serve {
        let url = server.url();
        println!("try: curl {url}/items/7   curl '{url}/basket?ids=1,2,3'   curl {url}/items/abc");
        // Sync main waits for an async signal: the same bridge as the service layer.
        smartasync::block_on(tokio::signal::ctrl_c())?;
        server.shutdown();
        println!(
            "stopped; the upstream saw {} requests over {} connections",
            upstream.requests(),
            upstream.connections()
        );
        return Ok(());
    }

    let addr = server.addr();
    let mut seen = Seen::default();
    for (method, path) in [
        ("GET", "/items/7"),
        ("GET", "/basket?ids=1,2,3"),
        ("GET", "/items/abc"),
        ("GET", "/items/5000"),
        ("POST", "/items/7"),
    ] {
        show(
            method,
            path,
            &seen.record(http_request(addr, method, path)?),
        );
    }

    // Sixty-four requests one after the other, each from a fresh client thread.
    for id in 1..=64 {
        let reply = thread::spawn(move || http_get(addr, &format!("/items/{id}")));
        seen.record(reply.join().expect("client thread")?);
    }
    println!(
        "sequential: 64 requests, one at a time  -> upstream connections so far: {}",
        upstream.connections()
    );

    // Thirty-two at once, from thirty-two client threads.
    let barrier = Arc::new(Barrier::new(32));
    let clients: Vec<_> = (1..=32)
        .map(|id| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                http_get(addr, &format!("/items/{id}"))
            })
        })
        .collect();
    for client in clients {
        seen.record(client.join().expect("client thread")?);
    }
    println!(
        "concurrent: 32 requests at once         -> upstream connections so far: {}",
        upstream.connections()
    );

    upstream.set_failing(true);
    show("GET", "/items/7", &seen.record(http_get(addr, "/items/7")?));
    upstream.set_failing(false);

    server.shutdown();
    println!(
        "gateway: requests={} ok={} server_threads={} upstream_connections={}",
        seen.requests,
        seen.ok,
        seen.threads.len(),
        upstream.connections()
    );
    Ok(())
}

/// What the demo's requests came back with.
#[derive(Default)]
struct Seen {
    requests: usize,
    ok: usize,
    threads: HashSet<String>,
}

impl Seen {
    fn record(&mut self, reply: HttpReply) -> HttpReply {
        self.requests += 1;
        self.ok += usize::from(reply.status == 200);
        if let Some(thread) = reply.header(THREAD_HEADER) {
            self.threads.insert(thread.to_owned());
        }
        reply
    }
}

fn show(method: &str, path: &str, reply: &HttpReply) {
    let thread = reply.header(THREAD_HEADER).unwrap_or("?");
    println!(
        "{method:<4} {path:<20} -> {} {}   [{thread}]",
        reply.status, reply.body
    );
}
