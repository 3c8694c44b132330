//! The peer proxies: a TCP proxy in front of each local etcd member's peer listener, so that
//! kvlab can cut the links between members (the nemesis's partitions, the tests' stale reads).
//!
//! Each member listens for peers on a port of its own and advertises the proxy's port as its
//! peer URL, so every connection between members goes through the proxy of the member it is
//! addressed to. etcd's rafthttp requests (streams, pipelined messages, snapshots) all carry an
//! `X-Server-From: <member id in hex>` header: the proxy reads the head of each new
//! connection's first request, learns the sender from it and refuses (closes) a connection on
//! a cut link. Connections whose first request names no sender (version checks, probes) pass
//! only while nothing is cut; cutting closes them all, and every open connection on a cut
//! link, at once.
//!
//! Invariants:
//! - every socket has a bounded wait: the request head must arrive within 2 s, the upstream
//!   connect within 1 s; the copying threads end when their
//!   sockets are shut down, which cutting and dropping the proxies do;
//! - the decision to let a connection through and its registration happen under the cut lock,
//!   so a cut never misses a connection accepted as it is made.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

/// How long a new connection may take to send its first request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the connection to the member's real peer listener may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest request head read (etcd's are a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;
/// How often an idle accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// Member numbers, 1-based as in `Served::node`.
pub type Member = u64;

/// One proxied connection: from (when known) and to which member, and both its sockets.
struct Conn {
    from: Option<Member>,
    to: Member,
    sockets: [TcpStream; 2],
}

impl Conn {
    fn close(&self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// What the proxies share.
#[derive(Default)]
struct Shared {
    /// Member number by etcd member id (learnt after start).
    ids: Mutex<HashMap<u64, Member>>,
    /// Cut links, as (smaller, larger) member pairs.
    cut: Mutex<HashSet<(Member, Member)>>,
    /// Open connections by a serial number.
    conns: Mutex<BTreeMap<u64, Conn>>,
    next: AtomicU64,
    stop: AtomicBool,
}

fn pair(a: Member, b: Member) -> (Member, Member) {
    (a.min(b), a.max(b))
}

impl Shared {
    /// Whether a connection from `from` to `to` may pass the cut set `cut`.
    fn allowed(cut: &HashSet<(Member, Member)>, from: Option<Member>, to: Member) -> bool {
        match from {
            Some(from) => !cut.contains(&pair(from, to)),
            None => cut.is_empty(),
        }
    }
}

/// The proxies of every member (see the module docs); dropping them closes every connection.
pub struct PeerProxies {
    shared: Arc<Shared>,
    ports: Vec<u16>,
    accept_threads: Vec<JoinHandle<()>>,
}

impl PeerProxies {
    /// Binds one proxy listener per member (free loopback ports) forwarding to the members'
    /// real peer ports `upstream` (member `i + 1` listens on `upstream[i]`).
    ///
    /// # Errors
    ///
    /// A listener that cannot be bound.
    pub fn start(upstream: &[u16]) -> std::io::Result<PeerProxies> {
        let shared = Arc::new(Shared::default());
        let mut ports = Vec::new();
        let mut accept_threads = Vec::new();
        for (i, &up) in upstream.iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            ports.push(listener.local_addr()?.port());
            let to = i as Member + 1;
            let target = SocketAddr::from(([127, 0, 0, 1], up));
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("kvlab-etcd-proxy-{to}"))
                .spawn(move || accept_loop(&listener, to, target, &shared))?;
            accept_threads.push(handle);
        }
        Ok(PeerProxies { shared, ports, accept_threads })
    }

    /// The proxy's port of each member (what the members advertise as their peer URLs).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Tells the proxies which etcd member id is which member.
    pub fn set_ids(&self, ids: HashMap<u64, Member>) {
        *self.shared.ids.lock() = ids;
    }

    /// Cuts every link between `a` and `b` (added to the links already cut) and closes the
    /// connections that cross them.
    pub fn cut(&self, a: &[Member], b: &[Member]) {
        let mut cut = self.shared.cut.lock();
        for &x in a {
            for &y in b.iter().filter(|&&y| y != x) {
                cut.insert(pair(x, y));
            }
        }
        let conns = self.shared.conns.lock();
        for conn in conns.values().filter(|c| !Shared::allowed(&cut, c.from, c.to)) {
            conn.close();
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.shared.cut.lock().clear();
    }

    /// Open connections, for tests: (from, to) of each.
    pub fn connections(&self) -> Vec<(Option<Member>, Member)> {
        self.shared.conns.lock().values().map(|c| (c.from, c.to)).collect()
    }
}

impl Drop for PeerProxies {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for conn in self.shared.conns.lock().values() {
            conn.close();
        }
        for handle in self.accept_threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, to: Member, target: SocketAddr, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((socket, _)) => {
                let shared = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("kvlab-etcd-proxy-{to}-conn"))
                    .spawn(move || serve(socket, to, target, &shared));
                // Without a thread the connection is dropped: the member retries.
                drop(spawned);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Reads the first request head (up to the blank line); `None` when it does not come in time.
fn read_head(socket: &mut TcpStream) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(HEAD_TIMEOUT)).ok()?;
    let mut head = Vec::new();
    let mut buf = [0_u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            break;
        }
        let n = socket.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(buf.get(..n)?);
    }
    socket.set_read_timeout(None).ok()?;
    Some(head)
}

/// The sender's member id in a request head: its `X-Server-From` header (hex).
pub fn server_from(head: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(head);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-server-from")
            .then(|| u64::from_str_radix(value.trim(), 16).ok())
            .flatten()
    })
}

fn serve(mut socket: TcpStream, to: Member, target: SocketAddr, shared: &Arc<Shared>) {
    let _ = socket.set_nonblocking(false);
    let Some(head) = read_head(&mut socket) else { return };
    let from = server_from(&head).and_then(|id| shared.ids.lock().get(&id).copied());
    if !Shared::allowed(&shared.cut.lock(), from, to) {
        return;
    }
    let Ok(mut upstream) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else { return };
    let _ = upstream.set_nodelay(true);
    let _ = socket.set_nodelay(true);
    if upstream.write_all(&head).is_err() {
        return;
    }
    let (Ok(a), Ok(b), Ok(down_reader), Ok(up_writer)) =
        (socket.try_clone(), upstream.try_clone(), socket.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let id = shared.next.fetch_add(1, Ordering::Relaxed);
    {
        // Decide again under the cut lock and register, so a cut made meanwhile closes it.
        let cut = shared.cut.lock();
        if !Shared::allowed(&cut, from, to) || shared.stop.load(Ordering::Acquire) {
            return;
        }
        shared.conns.lock().insert(id, Conn { from, to, sockets: [a, b] });
    }
    // Member → proxy → member in a thread of its own, the answers back in this one.
    let forward = std::thread::Builder::new()
        .name(format!("kvlab-etcd-proxy-{to}-fwd"))
        .spawn(move || copy(down_reader, up_writer));
    copy(upstream, socket);
    if let Some(conn) = shared.conns.lock().remove(&id) {
        conn.close();
    }
    if let Ok(forward) = forward {
        let _ = forward.join();
    }
}

/// Copies until either side ends, then shuts both down.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_is_read_from_the_request_head() {
        let head = b"GET /raft/stream/message/8e9e05c52164694d HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                     X-Server-From: 91bc3c398fb3c146\r\nx-etcd-cluster-id: cdf818194e3a8c32\r\n\r\n";
        assert_eq!(server_from(head), Some(0x91bc_3c39_8fb3_c146));
        assert_eq!(server_from(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        assert_eq!(server_from(b"POST /raft HTTP/1.1\r\nx-server-from: zz\r\n\r\n"), None);
    }

    #[test]
    fn cut_links_refuse_known_senders_and_every_unknown_one() {
        let mut cut = HashSet::new();
        assert!(Shared::allowed(&cut, None, 1));
        cut.insert(pair(3, 1));
        assert!(!Shared::allowed(&cut, Some(1), 3));
        assert!(!Shared::allowed(&cut, Some(3), 1));
        assert!(Shared::allowed(&cut, Some(2), 1));
        assert!(!Shared::allowed(&cut, None, 2), "no unknown sender while anything is cut");
    }
}
