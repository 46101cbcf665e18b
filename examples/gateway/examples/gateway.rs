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
//! `gateway: requests=<n> ok=<n> server_threads=<n> sequential_requests=64
//! sequential_upstream_connections=<n> burst_requests=32 burst_upstream_connections=<n>`.
//! Every request ran on its own server thread, yet the 64 sequential requests, on 64
//! different server threads, share one upstream connection: the client's pool (kept alive
//! by smartasync's process-wide runtime) is shared by them all. The burst figure varies from
//! run to run: a burst needs one connection per upstream request in flight at the same
//! moment, which depends on scheduling, and never more than 32.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;

use clap::Parser;
use smartasync_example_gateway::client::{self, Reply};
use smartasync_example_gateway::{
    DEFAULT_MAX_THREADS, Gateway, GatewayServer, THREAD_HEADER, Upstream,
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

    // Sixty-four requests one after the other, each from a fresh client thread, so each on
    // a new server thread. The upstream is fresh: every connection it sees is opened here.
    let sequential = 64;
    for id in 1..=sequential {
        let reply = thread::spawn(move || client::get(addr, &format!("/items/{id}")));
        seen.record(reply.join().expect("client thread")?);
    }
    let sequential_connections = upstream.connections();
    println!(
        "sequential: {sequential} requests, one at a time, on {sequential} server threads \
         -> {sequential_connections} upstream connection(s)"
    );

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
            &seen.record(client::request(addr, method, path)?),
        );
    }
    upstream.set_failing(true);
    let reply = seen.record(client::get(addr, "/items/7")?);
    show("GET", "/items/7 (upstream down)", &reply);
    upstream.set_failing(false);

    // Thirty-two at once, from thirty-two client threads.
    let burst = 32;
    let before_burst = upstream.connections();
    let barrier = Arc::new(Barrier::new(burst));
    let clients: Vec<_> = (1..=burst)
        .map(|id| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                client::get(addr, &format!("/items/{id}"))
            })
        })
        .collect();
    for client in clients {
        seen.record(client.join().expect("client thread")?);
    }
    let burst_connections = upstream.connections() - before_burst;
    println!(
        "burst: {burst} requests at once -> {burst_connections} more upstream connection(s) \
         (one per upstream request in flight at the same moment: varies, at most {burst})"
    );

    server.shutdown();
    println!(
        "gateway: requests={} ok={} server_threads={} sequential_requests={sequential} \
         sequential_upstream_connections={sequential_connections} burst_requests={burst} \
         burst_upstream_connections={burst_connections}",
        seen.requests,
        seen.ok,
        seen.threads.len(),
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
    fn record(&mut self, reply: Reply) -> Reply {
        self.requests += 1;
        self.ok += usize::from(reply.status == 200);
        if let Some(thread) = reply.header(THREAD_HEADER) {
            self.threads.insert(thread.to_owned());
        }
        reply
    }
}

fn show(method: &str, path: &str, reply: &Reply) {
    let thread = reply.header(THREAD_HEADER).unwrap_or("?");
    println!(
        "{method:<4} {path:<26} -> {} {}   [{thread}]",
        reply.status,
        reply.text()
    );
}
