//! Stateful async resources survive across blocking calls: a client whose `async fn` method
//! opens a loopback TCP connection lazily keeps using that one connection for every later
//! call, from any thread and from both entries. A runtime built per call (the Python
//! original, asgiref) would lose the connection with the runtime that created it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use smartasync::smartasync;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;

mod support;

use support::*;

/// At most this many connections are served by one server.
const MAX_CONNECTIONS: usize = 8;

/// A line server on 127.0.0.1 that counts the connections it accepts and answers each line
/// with `<line>|<connection number>|<line number on that connection>`.
struct LineServer {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl LineServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        thread::spawn(move || {
            // Bounded in time and in connections.
            let deadline = Instant::now() + WATCHDOG * 2;
            while Instant::now() < deadline && counter.load(Ordering::SeqCst) < MAX_CONNECTIONS {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        thread::spawn(move || serve(stream, number));
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => return,
                }
            }
        });
        Self { address, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn serve(stream: std::net::TcpStream, connection: usize) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(WATCHDOG)));
    let Ok(mut writer) = setup.and_then(|()| stream.try_clone()) else {
        return;
    };
    let reader = BufReader::new(stream);
    for (index, line) in reader.lines().enumerate().take(10_000) {
        let Ok(line) = line else { return };
        // One write per reply: several small ones would wait on Nagle and delayed ACKs.
        let reply = format!("{line}|{connection}|{}\n", index + 1);
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// One reply of the server, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    line: String,
    connection: usize,
    sequence: usize,
}

impl Reply {
    fn parse(text: &str) -> Self {
        let mut parts = text.rsplitn(3, '|');
        let sequence = parts.next().and_then(|s| s.parse().ok());
        let connection = parts.next().and_then(|s| s.parse().ok());
        let line = parts.next();
        match (line, connection, sequence) {
            (Some(line), Some(connection), Some(sequence)) => Self {
                line: line.to_owned(),
                connection,
                sequence,
            },
            _ => panic!("malformed reply {text:?}"),
        }
    }
}

type Connection = AsyncBufReader<TcpStream>;

/// A cheap handle to one lazily opened connection.
#[derive(Clone)]
struct LineClient {
    address: SocketAddr,
    connection: Arc<tokio::sync::Mutex<Option<Connection>>>,
    connects: Arc<AtomicUsize>,
}

impl LineClient {
    fn new(address: SocketAddr) -> Self {
        Self {
            address,
            connection: Arc::new(tokio::sync::Mutex::new(None)),
            connects: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A constructor that connects right away.
    #[smartasync]
    async fn connect(address: SocketAddr) -> io::Result<Self> {
        let client = Self::new(address);
        drop(client.ensure_connected().await?);
        Ok(client)
    }

    async fn ensure_connected(
        &self,
    ) -> io::Result<tokio::sync::MutexGuard<'_, Option<Connection>>> {
        let mut connection = self.connection.lock().await;
        if connection.is_none() {
            self.connects.fetch_add(1, Ordering::SeqCst);
            let stream = TcpStream::connect(self.address).await?;
            *connection = Some(AsyncBufReader::new(stream));
        }
        Ok(connection)
    }

    /// Sends one line and returns the server's reply, opening the connection on first use.
    #[smartasync]
    async fn call(&self, line: &str) -> io::Result<Reply> {
        let mut guard = self.ensure_connected().await?;
        let connection = guard.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        connection
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await?;
        let mut reply = String::new();
        if connection.read_line(&mut reply).await? == 0 {
            *guard = None;
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Reply::parse(reply.trim_end()))
    }

    fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

/// `threads` plain threads make `calls` blocking calls each, all at once; returns every
/// reply with the line that was sent.
fn call_from_threads(client: &LineClient, threads: usize, calls: usize) -> Vec<(String, Reply)> {
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                (0..calls)
                    .map(|c| {
                        let line = format!("thread {t} call {c}");
                        let reply = client.call(&line).expect("the call is answered");
                        (line, reply)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("a calling thread panicked"))
        .collect()
}

/// Every reply answers its own line on connection 1, and the connection saw exactly these
/// lines, numbered 1.., in some order.
#[track_caller]
fn assert_one_connection(replies: &[(String, Reply)], first_sequence: usize) {
    for (line, reply) in replies {
        assert_eq!(&reply.line, line, "the reply answers the line sent");
        assert_eq!(reply.connection, 1, "every call used the first connection");
    }
    let mut sequences: Vec<_> = replies.iter().map(|(_, reply)| reply.sequence).collect();
    sequences.sort_unstable();
    let expected: Vec<_> = (first_sequence..first_sequence + replies.len()).collect();
    assert_eq!(
        sequences, expected,
        "each call was one line on the same connection"
    );
}

#[test]
fn lazy_connection_is_opened_once_and_reused_by_blocking_calls_from_many_threads() {
    within("24 blocking calls from 4 threads", || {
        let server = LineServer::start();
        let client = LineClient::new(server.address);
        assert_eq!(
            server.accepted(),
            0,
            "nothing is connected before the first call"
        );

        let replies = call_from_threads(&client, 4, 6);
        assert_eq!(replies.len(), 24);
        assert_one_connection(&replies, 1);

        // And later, from yet another thread: still the same connection.
        let later = thread::spawn({
            let client = client.clone();
            move || client.call("later").expect("answered")
        })
        .join()
        .expect("thread");
        assert_eq!(later.connection, 1);
        assert_eq!(later.sequence, 25);

        assert_eq!(client.connects(), 1);
        assert_eq!(server.accepted(), 1, "exactly one connection accepted");
    });
}

#[test]
fn client_connected_in_one_blocking_call_keeps_working_in_the_next_ones() {
    within("connect() then 20 calls", || {
        let server = LineServer::start();
        let client = LineClient::connect(server.address).expect("connect");
        assert_eq!(client.connects(), 1);

        let replies = call_from_threads(&client, 5, 4);
        assert_eq!(replies.len(), 20);
        assert_one_connection(&replies, 1);
        assert_eq!(server.accepted(), 1, "exactly one connection accepted");
    });
}

#[test]
fn lazy_connection_is_shared_by_both_entries_across_runtimes() {
    within("blocking and async calls on one connection", || {
        let server = LineServer::start();
        let client = LineClient::new(server.address);
        // Opened by a blocking call: the socket lives on the process-wide runtime.
        assert_eq!(client.call("first").expect("answered").sequence, 1);

        // Awaited from a multi-thread runtime's tasks, and called blocking from its workers.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let replies = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..10 {
                let client = client.clone();
                tasks.push(tokio::spawn(async move {
                    let line = format!("task {i}");
                    let reply = if i % 2 == 0 {
                        client.call_async(&line).await
                    } else {
                        client.call(&line)
                    };
                    (line, reply.expect("answered"))
                }));
            }
            let mut replies = Vec::new();
            for task in tasks {
                replies.push(task.await.expect("task"));
            }
            replies
        });
        // A client connected by the async entry lives on the runtime that awaited it.
        let other = LineServer::start();
        let (own, own_reply) = rt.block_on(async {
            let own = LineClient::connect_async(other.address)
                .await
                .expect("connect");
            let reply = own.call_async("own").await.expect("answered");
            (own, reply)
        });
        assert_eq!((own.connects(), own_reply.sequence), (1, 1));
        assert_eq!(other.accepted(), 1);
        // The runtime that awaited goes away; the connection opened by the blocking entry
        // does not.
        drop(rt);
        assert_one_connection(&replies, 2);
        assert_eq!(client.call("last").expect("answered").sequence, 12);
        assert_eq!(server.accepted(), 1, "exactly one connection accepted");
    });
}

#[tokio::test]
async fn client_from_the_process_wide_runtime_works_in_tokio_test_through_both_entries() {
    let server = LineServer::start();
    let client = LineClient::new(server.address);
    // The first call, from a plain thread, opens the connection on the process-wide runtime.
    let first = thread::spawn({
        let client = client.clone();
        move || client.call("from a plain thread").expect("answered")
    })
    .join()
    .expect("thread");
    assert_eq!((first.connection, first.sequence), (1, 1));

    // The blocking entry on this test's (current-thread) runtime thread.
    let mut replies = Vec::new();
    for i in 0..10 {
        let line = format!("blocking {i}");
        replies.push((line.clone(), client.call(&line).expect("answered")));
    }
    // The async entry, awaited on this runtime, with the socket driven by the other one.
    for i in 0..10 {
        let line = format!("async {i}");
        replies.push((
            line.clone(),
            client.call_async(&line).await.expect("answered"),
        ));
    }
    assert_one_connection(&replies, 2);
    assert_eq!(client.connects(), 1);
    assert_eq!(server.accepted(), 1, "exactly one connection accepted");
}
