//! The sync gateway over async clients, end to end on loopback: a `tiny_http` server whose
//! request threads call the blocking entries of `Gateway`, in front of an in-process Axum
//! upstream that counts its TCP connections; and the same `Gateway` awaited from async tests.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smartasync_example_gateway::client::{self, Reply};
use smartasync_example_gateway::{
    CATALOG_SIZE, Gateway, GatewayError, GatewayServer, MAX_BASKET, THREAD_HEADER, Upstream,
    catalog_item,
};

fn start() -> (Upstream, GatewayServer) {
    start_with(Duration::from_secs(5))
}

fn start_with(timeout: Duration) -> (Upstream, GatewayServer) {
    let upstream = Upstream::start().expect("upstream starts");
    let gateway = Gateway::with_timeout(&upstream.url(), timeout).expect("client builds");
    let server = GatewayServer::start("127.0.0.1:0", gateway, 64).expect("gateway starts");
    (upstream, server)
}

fn item_json(id: u64) -> Value {
    serde_json::to_value(catalog_item(id).expect("in the catalog")).unwrap()
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    client::get(addr, path).unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

/// Asserts a JSON error reply with `status` whose message contains `needle`.
fn assert_error(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let message = reply.json().expect("a JSON body")["error"]
        .as_str()
        .expect("an `error` string")
        .to_owned();
    assert!(
        message.contains(needle),
        "`{message}` should contain `{needle}`"
    );
}

/// Each request from its own client thread, each client thread started after the previous
/// one finished: every request is served by a new gateway thread, and the shared client
/// finds the previous request's connection idle in its pool.
fn sequential_from_fresh_threads(addr: SocketAddr, ids: impl Iterator<Item = u64>) -> Vec<String> {
    ids.map(|id| {
        let reply = thread::spawn(move || get(addr, &format!("/items/{id}")))
            .join()
            .expect("client thread");
        assert_eq!(reply.status, 200, "body: {}", reply.text());
        assert_eq!(reply.json().unwrap(), item_json(id));
        reply
            .header(THREAD_HEADER)
            .expect("thread header")
            .to_owned()
    })
    .collect()
}

#[test]
fn thirty_two_concurrent_requests_are_all_answered_correctly() {
    let (upstream, server) = start();
    let addr = server.addr();
    let clients = 32;
    let barrier = Arc::new(Barrier::new(clients));
    let replies: Vec<(u64, Reply)> = (0..clients)
        .map(|n| {
            let barrier = Arc::clone(&barrier);
            let id = 100 + n as u64;
            thread::spawn(move || {
                barrier.wait();
                (id, get(addr, &format!("/items/{id}")))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|client| client.join().expect("client thread"))
        .collect();

    let mut threads = HashSet::new();
    for (id, reply) in &replies {
        assert_eq!(reply.status, 200, "item {id}: {}", reply.text());
        assert_eq!(reply.json().unwrap(), item_json(*id));
        let thread = reply.header(THREAD_HEADER).expect("thread header");
        assert!(thread.starts_with("gateway-req-"), "{thread}");
        threads.insert(thread.to_owned());
    }
    // Thread per request: no two requests shared a server thread.
    assert_eq!(threads.len(), clients);
    // Exactly one upstream request per gateway request (no retries, no duplicates).
    assert_eq!(upstream.requests(), clients);
    // 32 requests in flight at once may each need a connection, never more.
    let opened = upstream.connections();
    assert!((1..=clients).contains(&opened), "{opened} connections");
    eprintln!("concurrent: {clients} requests over {opened} upstream connections");
}

#[test]
fn keep_alive_holds_across_many_server_threads() {
    let (upstream, server) = start();
    let addr = server.addr();

    // Sequential phase: 48 requests on 48 different server threads, one connection reused.
    let sequential = 48;
    let threads = sequential_from_fresh_threads(addr, 1..=sequential);
    assert_eq!(threads.iter().collect::<HashSet<_>>().len(), threads.len());
    let after_sequential = upstream.connections();
    assert_eq!(upstream.requests(), threads.len());
    assert!(
        (1..=2).contains(&after_sequential),
        "{} sequential requests from {} server threads opened {after_sequential} connections",
        threads.len(),
        threads.len()
    );

    // Concurrent burst: up to one new connection per request in flight.
    let burst = 32;
    let barrier = Arc::new(Barrier::new(burst));
    let clients: Vec<_> = (0..burst as u64)
        .map(|n| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let reply = get(addr, &format!("/items/{}", 500 + n));
                assert_eq!(reply.status, 200, "body: {}", reply.text());
                assert_eq!(reply.json().unwrap(), item_json(500 + n));
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
    let after_burst = upstream.connections();
    assert!(after_burst <= after_sequential + burst, "{after_burst}");

    // Sequential again: the pool now holds the burst's idle connections; no new ones.
    let threads = sequential_from_fresh_threads(addr, 900..900 + sequential);
    let after_all = upstream.connections();
    assert!(
        after_all <= after_burst + 1,
        "{} sequential requests opened {} more connections",
        threads.len(),
        after_all - after_burst
    );
    let total = 2 * sequential as usize + burst;
    assert_eq!(upstream.requests(), total);
    assert!(
        after_all * 2 < total,
        "{after_all} connections for {total} requests"
    );
    eprintln!(
        "keep-alive: {total} requests on {total} server threads over {after_all} upstream \
         connections (sequential {after_sequential}, after burst {after_burst})"
    );
}

#[test]
fn basket_fans_out_concurrently_and_totals() {
    let (_upstream, server) = start();
    let reply = get(server.addr(), "/basket?ids=3,1,4,1,5");
    assert_eq!(reply.status, 200, "body: {}", reply.text());
    let ids = [3, 1, 4, 1, 5];
    let items: Vec<Value> = ids.iter().map(|&id| item_json(id)).collect();
    let total: u64 = ids
        .iter()
        .map(|&id| catalog_item(id).unwrap().price_cents)
        .sum();
    assert_eq!(
        reply.json().unwrap(),
        json!({ "items": items, "total_cents": total })
    );
}

#[test]
fn basket_requests_overlap_at_the_upstream() {
    let (upstream, server) = start();
    let delay = Duration::from_millis(200);
    upstream.set_delay(delay);
    let ids: Vec<String> = (1..=8).map(|id| id.to_string()).collect();
    let started = Instant::now();
    let reply = get(server.addr(), &format!("/basket?ids={}", ids.join(",")));
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 200, "body: {}", reply.text());
    // Eight 200 ms upstream calls made one after the other would take 1.6 s; from one sync
    // request thread they overlap.
    assert!(elapsed < delay * 6, "took {elapsed:?}");
}

#[test]
fn client_mistakes_are_4xx_with_a_json_message() {
    let (upstream, server) = start();
    let addr = server.addr();
    let too_many = vec!["1"; MAX_BASKET + 1].join(",");
    let long = "9".repeat(500);
    let id_rule = "an item id is a positive integer in decimal digits, such as `7`; got";
    // Mistakes the gateway answers by itself, without asking the upstream.
    let local: Vec<(&str, String, u16, String)> = vec![
        ("GET", "/items/abc".into(), 400, format!("{id_rule} `abc`")),
        ("GET", "/items/0".into(), 400, format!("{id_rule} `0`")),
        ("GET", "/items/-3".into(), 400, format!("{id_rule} `-3`")),
        ("GET", "/items/+3".into(), 400, format!("{id_rule} `+3`")),
        ("GET", "/items/1.5".into(), 400, format!("{id_rule} `1.5`")),
        ("GET", "/items/%20".into(), 400, format!("{id_rule} ` `")),
        ("GET", "/items/%41".into(), 400, format!("{id_rule} `A`")),
        ("GET", format!("/items/{long}"), 400, "...".into()),
        (
            "GET",
            "/items/18446744073709551616".into(),
            400,
            format!(
                "an item id is at most {}; got `18446744073709551616`",
                u64::MAX
            ),
        ),
        // A `%` without two hex digits is kept as it is, and refused as an id.
        ("GET", "/items/%3".into(), 400, format!("{id_rule} `%3`")),
        ("GET", "/items/%zz".into(), 400, format!("{id_rule} `%zz`")),
        ("GET", "/items/%FF".into(), 400, "must be UTF-8".into()),
        // An encoded `/` stays inside its segment.
        (
            "GET",
            "/items/1%2F2".into(),
            400,
            format!("{id_rule} `1/2`"),
        ),
        ("GET", "/items".into(), 404, "no route GET /items".into()),
        (
            "GET",
            "/nowhere".into(),
            404,
            "no route GET /nowhere".into(),
        ),
        ("GET", "/items/1/extra".into(), 404, "no route".into()),
        ("POST", "/items/1".into(), 405, "use GET".into()),
        ("DELETE", "/health".into(), 405, "use GET".into()),
        ("GET", "/basket".into(), 400, "expected `?ids=1,2,3`".into()),
        ("GET", "/basket?ids=".into(), 400, format!("{id_rule} ``")),
        (
            "GET",
            "/basket?ids=1,x".into(),
            400,
            format!("{id_rule} `x`"),
        ),
        (
            "GET",
            "/basket?ids=1%2".into(),
            400,
            format!("{id_rule} `1%2`"),
        ),
        (
            "GET",
            format!("/basket?ids={too_many}"),
            400,
            format!("a basket holds 1 to {MAX_BASKET} ids, got 17"),
        ),
    ];
    for (method, path, status, needle) in &local {
        let reply = client::request(addr, method, path).expect("reply");
        assert_error(&reply, *status, needle);
        if *status == 405 {
            assert_eq!(reply.header("allow"), Some("GET"));
        }
    }
    // Echoed input is clipped.
    let reply = get(addr, &format!("/items/{long}"));
    assert!(reply.body.len() < 200, "{}", reply.text());
    assert_eq!(
        upstream.requests(),
        0,
        "a malformed request reached the upstream"
    );

    // Well-formed ids the upstream does not have.
    assert_error(&get(addr, "/items/1001"), 404, "no item 1001");
    assert_eq!(upstream.requests(), 1);
    assert_error(&get(addr, "/basket?ids=1,2000"), 404, "no item 2000");
    // The 404 for 2000 ends the basket early: the request for 1 may or may not have been
    // sent by then.
    let requests = upstream.requests();
    assert!((2..=3).contains(&requests), "{requests} upstream requests");
    assert_eq!(
        get(addr, "/health").json().unwrap(),
        json!({ "status": "ok" })
    );
}

#[test]
fn ids_may_be_percent_encoded() {
    let (_upstream, server) = start();
    let addr = server.addr();
    // `%37` is `7`; `%2C` is `,`, as form encoders write `ids=1,2`.
    assert_eq!(get(addr, "/items/%37").json().unwrap(), item_json(7));
    assert_eq!(get(addr, "/%69tems/1%32").json().unwrap(), item_json(12));
    let reply = get(addr, "/basket?%69ds=1%2C2");
    assert_eq!(reply.status, 200, "body: {}", reply.text());
    let items = &reply.json().unwrap()["items"];
    assert_eq!(*items, json!([item_json(1), item_json(2)]));
}

#[test]
fn malformed_http_gets_an_answer_and_the_server_keeps_serving() {
    use std::io::{Read, Write};
    let (_upstream, server) = start();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(get(server.addr(), "/items/2").json().unwrap(), item_json(2));
}

#[test]
fn upstream_failure_is_a_502_with_the_reason() {
    let (upstream, server) = start();
    let addr = server.addr();
    upstream.set_failing(true);
    assert_error(&get(addr, "/items/1"), 502, "upstream answered 503");
    assert_error(&get(addr, "/basket?ids=1,2"), 502, "upstream answered 503");
    upstream.set_failing(false);
    assert_eq!(get(addr, "/items/1").json().unwrap(), item_json(1));
}

#[test]
fn unreachable_upstream_is_a_502_with_the_reason() {
    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gateway = Gateway::new(&format!("http://{dead}")).unwrap();
    let server = GatewayServer::start("127.0.0.1:0", gateway, 4).unwrap();
    let reply = get(server.addr(), "/items/1");
    assert_error(&reply, 502, "upstream request failed");
    assert!(reply.text().contains("onnect"), "{}", reply.text());
}

#[test]
fn slow_upstream_is_a_502_timeout_and_the_gateway_recovers() {
    let (upstream, server) = start_with(Duration::from_secs(1));
    let addr = server.addr();
    upstream.set_delay(Duration::from_secs(5));
    assert_error(&get(addr, "/items/1"), 502, "timed out after 1s");
    upstream.set_delay(Duration::ZERO);
    // The timed-out request's connection was dropped, so the next one opens a new
    // connection within the same 1 s budget. On a loaded machine that can take long, so a
    // few timeouts are tolerated before the first success; any other answer is a failure.
    let mut recovered = false;
    for _ in 0..5 {
        let reply = get(addr, "/items/1");
        if reply.status == 200 {
            assert_eq!(reply.json().unwrap(), item_json(1));
            recovered = true;
            break;
        }
        assert_error(&reply, 502, "timed out after 1s");
    }
    assert!(
        recovered,
        "five timeouts in a row after the upstream recovered"
    );
}

#[test]
fn shutdown_finishes_and_frees_the_port() {
    let (_upstream, server) = start();
    let addr = server.addr();
    assert_eq!(get(addr, "/health").status, 200);
    server.shutdown();
    assert!(client::get(addr, "/health").is_err());
}

#[test]
fn shutdown_serves_the_queued_requests() {
    let upstream = Upstream::start().unwrap();
    upstream.set_delay(Duration::from_millis(400));
    let gateway = Gateway::new(&upstream.url()).unwrap();
    // One request thread: while the first request waits for the upstream, the accept
    // thread holds the second and the others wait in the server's queue.
    let server = GatewayServer::start("127.0.0.1:0", gateway, 1).unwrap();
    let addr = server.addr();
    let clients: Vec<_> = (1..=4u64)
        .map(|id| thread::spawn(move || (id, get(addr, &format!("/items/{id}")))))
        .collect();
    let waited = Instant::now();
    while upstream.requests() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no request arrived"
        );
        thread::sleep(Duration::from_millis(5));
    }
    server.shutdown();
    // Every request taken before the shutdown was served before it returned.
    assert_eq!(upstream.requests(), 4);
    for client in clients {
        let (id, reply) = client.join().expect("client thread");
        assert_eq!(reply.status, 200, "item {id}: {}", reply.text());
        assert_eq!(reply.json().unwrap(), item_json(id));
    }
}

// The same service, awaited from async code: no code change, on both runtime flavors.

async fn awaited_service_works() {
    let upstream = Upstream::start().unwrap();
    let gateway = Gateway::new(&upstream.url()).unwrap();
    for id in [1, 2, 3, 1, 2, 3] {
        assert_eq!(gateway.fetch_async(id).await, Ok(catalog_item(id).unwrap()));
    }
    let basket = gateway.basket_async(&[7, 8]).await.unwrap();
    assert_eq!(
        basket.items,
        [catalog_item(7).unwrap(), catalog_item(8).unwrap()]
    );
    assert_eq!(
        gateway.fetch_async(CATALOG_SIZE + 5).await,
        Err(GatewayError::NotFound(format!(
            "no item {}",
            CATALOG_SIZE + 5
        )))
    );
    assert!(matches!(
        gateway.basket_async(&[]).await,
        Err(GatewayError::BadRequest(_))
    ));
    upstream.set_failing(true);
    assert_eq!(gateway.fetch_async(1).await.unwrap_err().status(), 502);
    // Sequential awaits share connections too. Not always one: the client's pool takes a
    // connection back on the runtime's own task after the body is read, so on a busy
    // machine the next request can come first and open another.
    assert_eq!(upstream.requests(), 10);
    let opened = upstream.connections();
    assert!(
        opened <= 4,
        "10 sequential requests opened {opened} connections"
    );
}

#[tokio::test]
async fn service_awaited_on_a_current_thread_runtime() {
    awaited_service_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_awaited_on_a_multi_thread_runtime() {
    awaited_service_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_served_sync_and_awaited_at_once() {
    let upstream = Upstream::start().unwrap();
    let gateway = Gateway::new(&upstream.url()).unwrap();
    let server = GatewayServer::start("127.0.0.1:0", gateway.clone(), 8).unwrap();
    let addr = server.addr();
    let sync_side = smartasync::unblock(move || {
        (1..=10)
            .map(|id| get(addr, &format!("/items/{id}")).status)
            .collect::<Vec<_>>()
    });
    let async_side = async {
        let mut items = Vec::new();
        for id in 11..=20 {
            items.push(gateway.fetch_async(id).await.unwrap().id);
        }
        items
    };
    let (statuses, ids) = tokio::join!(sync_side, async_side);
    assert_eq!(statuses, [200; 10]);
    assert_eq!(ids, (11..=20).collect::<Vec<_>>());
    assert_eq!(upstream.requests(), 20);
}
