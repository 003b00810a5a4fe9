//! Outages on demand: a TCP relay in front of a real server (PostgreSQL, Redis) that a test can
//! cut, so the service meets the server going away and coming back exactly as it would in
//! production, with every connection dropped and new ones refused, while the server itself
//! stays up for the other tests sharing it.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Replaced on every cut: cancelling it drops the connections open at the time.
    connections: std::sync::Mutex<CancellationToken>,
}

impl Relay {
    /// Relays a free loopback port to `target` (`host:port`).
    pub async fn to(target: &str) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a relay port");
        let relay = Arc::new(Self {
            addr: listener.local_addr().expect("relay address"),
            up: Arc::new(AtomicBool::new(true)),
            connections: std::sync::Mutex::new(CancellationToken::new()),
        });
        let (target, serving) = (target.to_string(), relay.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !serving.up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused as soon as it opens
                }
                let cut = serving.connections.lock().expect("relay lock").clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.cancelled() => {}
                    }
                });
            }
        });
        relay
    }

    /// The relay's `host:port`, to put in a URL in place of the server's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server is gone: open connections drop, new ones are refused.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut connections = self.connections.lock().expect("relay lock");
        connections.cancel();
        *connections = CancellationToken::new();
    }

    /// The server is back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
