//! [`Link`]: a client's one request stream to one node process.
//!
//! Every request to the node is a call on one bidirectional `Kv.Batch` stream, tagged with an
//! id. A task of the client's runtime sends, per batch, every call that queued while it was
//! busy (so many requests in flight cost one message, not an HTTP/2 stream each, as with
//! TiKV's `BatchCommands`), and hands each answer to the channel its request waits on. A call
//! past its deadline is answered `Timeout` here (a node that is paused never answers); when
//! the stream breaks, every call in flight on it fails, and the next request opens a new one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::Streaming;

use crate::error::{Error, Result};
use crate::request::{ReadResponse, Reply};
use crate::topology::NodeId;
use crate::wire::pb::kv_client::KvClient;
use crate::wire::{self, pb};

/// Slack past a request's deadline before the client gives up on the call: the node answers
/// `Timeout` itself at the deadline, which is the better answer.
const CALL_SLACK: Duration = Duration::from_millis(50);
/// The most calls in one batch.
const MAX_BATCH: usize = 256;
/// Batches queued for the stream beyond which a request fails as overload (`Unavailable`)
/// rather than wait unboundedly.
const BATCHES_QUEUED: usize = 1024;
/// How often calls past their deadline are looked for.
const SWEEP: Duration = Duration::from_millis(10);

/// Where a call's answer goes.
pub(crate) enum Waiting {
    /// A read's.
    Read(Reply<ReadResponse>),
    /// A write's: the leader that applied it.
    Write(Reply<NodeId>),
}

/// Why a call got no answer from its node.
enum Failure {
    /// Its deadline passed.
    Timeout,
    /// The stream or connection broke.
    Broken(String),
}

impl Waiting {
    /// Answers the call with `reply`, which must be of the call's kind.
    fn answer(self, node: NodeId, reply: Option<pb::answer::Reply>) {
        use pb::answer::Reply;
        let corrupt = || Error::Corruption(format!("node {node} sent a mismatched answer"));
        match (self, reply) {
            (Waiting::Read(tx), Some(Reply::Read(r))) => {
                let _ = tx.send(match r.outcome {
                    Some(pb::read_reply::Outcome::Answer(a)) => wire::answer_from_pb(a),
                    Some(pb::read_reply::Outcome::Error(e)) => Err(wire::error_from_pb(e)),
                    None => Err(corrupt()),
                });
            }
            (Waiting::Write(tx), Some(Reply::Write(w))) => {
                let _ = tx.send(match w.outcome {
                    Some(pb::write_reply::Outcome::Node(n)) => Ok(n),
                    Some(pb::write_reply::Outcome::Error(e)) => Err(wire::error_from_pb(e)),
                    None => Err(corrupt()),
                });
            }
            (Waiting::Read(tx), _) => drop(tx.send(Err(corrupt()))),
            (Waiting::Write(tx), _) => drop(tx.send(Err(corrupt()))),
        }
    }

    /// Fails the call. A read changes nothing, so it may go elsewhere; a write may have
    /// reached the node, so its outcome is unknown and it must not be retried.
    fn fail(self, node: NodeId, why: &Failure) {
        match (self, why) {
            (Waiting::Read(tx), Failure::Timeout) => {
                let _ = tx.send(Err(Error::Timeout(format!("node {node}"))));
            }
            (Waiting::Read(tx), Failure::Broken(m)) => {
                let _ = tx.send(Err(Error::Unavailable(format!("node {node}: {m}"))));
            }
            (Waiting::Write(tx), Failure::Timeout) => {
                let _ =
                    tx.send(Err(Error::Indeterminate(format!("write to node {node}: timed out"))));
            }
            (Waiting::Write(tx), Failure::Broken(m)) => {
                let _ = tx.send(Err(Error::Indeterminate(format!("write to node {node}: {m}"))));
            }
        }
    }
}

/// A call on its way to the link's task.
struct Outgoing {
    request: pb::call::Request,
    deadline: Instant,
    waiting: Waiting,
}

/// A client's request stream to one node (see the module docs).
pub(crate) struct Link {
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Link {
    /// A link to `node` over `channel`, driven by a task on `rt` until the link is dropped.
    pub(crate) fn open(rt: &Handle, node: NodeId, channel: Channel) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = KvClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        rt.spawn(drive(node, client, rx));
        Self { tx }
    }

    /// Sends a call; its answer (or failure) goes to `waiting`.
    pub(crate) fn send(
        &self,
        request: pb::call::Request,
        deadline: Instant,
        waiting: Waiting,
    ) -> Result<()> {
        self.tx
            .send(Outgoing { request, deadline, waiting })
            .map_err(|_| Error::Unavailable("the client's gRPC runtime stopped".into()))
    }
}

/// The link's task: one stream at a time, opened when a request comes.
async fn drive(node: NodeId, client: KvClient<Channel>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut ids = 0u64;
    while let Some(first) = rx.recv().await {
        Stream::new(node, &mut ids).run(client.clone(), first, &mut rx).await;
    }
}

/// One open `Kv.Batch` stream and its calls in flight.
struct Stream<'a> {
    node: NodeId,
    ids: &'a mut u64,
    in_flight: HashMap<u64, (Instant, Waiting)>,
}

impl<'a> Stream<'a> {
    fn new(node: NodeId, ids: &'a mut u64) -> Self {
        Self { node, ids, in_flight: HashMap::new() }
    }

    /// Runs the stream until it breaks or the link is dropped with nothing in flight.
    async fn run(
        mut self,
        mut client: KvClient<Channel>,
        first: Outgoing,
        rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    ) {
        let (calls, calls_rx) = mpsc::channel(BATCHES_QUEUED);
        // Queued before the call opens, so the node gets the first batch with the headers.
        let _ = calls.try_send(self.batch(first, rx));
        let opening = client.batch(tokio_stream::wrappers::ReceiverStream::new(calls_rx));
        tokio::pin!(opening);
        let mut answers: Option<Streaming<pb::Answers>> = None;
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut link_open = true;
        let why = loop {
            tokio::select! {
                opened = &mut opening, if answers.is_none() => match opened {
                    Ok(response) => answers = Some(response.into_inner()),
                    Err(status) => break status.message().to_string(),
                },
                next = next_answers(&mut answers) => match next {
                    Ok(Some(batch)) => {
                        for a in batch.answers {
                            if let Some((_, waiting)) = self.in_flight.remove(&a.id) {
                                waiting.answer(self.node, a.reply);
                            }
                        }
                    }
                    Ok(None) => break "the node closed the stream".to_string(),
                    Err(status) => break status.message().to_string(),
                },
                out = rx.recv(), if link_open => match out {
                    Some(first) => {
                        let batch = self.batch(first, rx);
                        if let Err(e) = calls.try_send(batch) {
                            // The stream is gone or hopelessly behind: fail this batch's calls.
                            let why = Failure::Broken(format!("stream backlog: {e}"));
                            for call in e.into_inner().calls {
                                if let Some((_, w)) = self.in_flight.remove(&call.id) {
                                    w.fail(self.node, &why);
                                }
                            }
                        }
                    }
                    None => link_open = false,
                },
                _ = sweep.tick(), if !self.in_flight.is_empty() => self.expire(),
            }
            if !link_open && self.in_flight.is_empty() {
                return;
            }
        };
        let why = Failure::Broken(why);
        for (_, (_, waiting)) in self.in_flight.drain() {
            waiting.fail(self.node, &why);
        }
    }

    /// `first` and every call queued behind it (up to `MAX_BATCH`), now in flight.
    fn batch(&mut self, first: Outgoing, rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> pb::Calls {
        let mut calls = Vec::with_capacity(rx.len().min(MAX_BATCH) + 1);
        let mut next = Some(first);
        while let Some(out) = next {
            *self.ids += 1;
            let id = *self.ids;
            self.in_flight.insert(id, (out.deadline + CALL_SLACK, out.waiting));
            calls.push(pb::Call { id, request: Some(out.request) });
            next = if calls.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        pb::Calls { calls }
    }

    /// Fails the calls past their deadline.
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> =
            self.in_flight.iter().filter(|(_, (d, _))| *d <= now).map(|(&id, _)| id).collect();
        for id in late {
            if let Some((_, waiting)) = self.in_flight.remove(&id) {
                waiting.fail(self.node, &Failure::Timeout);
            }
        }
    }
}

/// The next batch of answers, once the stream is open.
async fn next_answers(
    answers: &mut Option<Streaming<pb::Answers>>,
) -> std::result::Result<Option<pb::Answers>, tonic::Status> {
    match answers {
        Some(stream) => stream.message().await,
        None => std::future::pending().await,
    }
}
