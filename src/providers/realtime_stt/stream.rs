//! One open transcription stream: the owner's two halves ([`TranscriptionSender`] for audio and
//! turn ends, [`TranscriptionEvents`] for what the server heard) and the task between them and the
//! socket.
//!
//! Ownership and ending:
//! - The socket task owns the socket and the [`TurnBook`]. It is spawned by `connect` and runs until
//!   the sender is dropped (it then sends a close frame and ends: no `Broken`), the socket fails or
//!   closes (it sends `Broken` and ends), or the sender reports an overflow (`Broken(Overloaded)`).
//!   Nothing else cancels it; dropping both halves ends it through the first case.
//! - The command queue (sender → task) is bounded. The sender never waits on it: a full queue means
//!   the socket is not keeping up, and the stream is broken rather than audio dropped or the owner's
//!   loop held up.
//! - The event queue (task → events) is bounded; the task waits when it is full, so an owner that
//!   stops reading stalls the socket (and then the audio queue overflows). Dropping the events half
//!   only discards what the task would have sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::events::{BrokenReason, TranscriptionEvent, TurnTicket};
use super::turns::{CommitDecision, TurnBook};
use super::wire::{self, ServerEvent, parse_server_event};

pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Commands the sender may queue ahead of the socket: five seconds of 20 ms frames.
const COMMAND_CAPACITY: usize = 250;
/// Events the task may hold for an owner busy elsewhere.
const EVENT_CAPACITY: usize = 64;
/// Frames queued together go out as one append, up to this much audio (200 ms).
const MAX_APPEND_BYTES: usize = 1600;
/// How long a deliberate close waits to write its close frame.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The session settings a prompt update repeats (the API takes the whole transcription session).
pub(super) struct SessionSettings {
    pub(super) model: String,
    pub(super) language: String,
}

/// What the owner asks of the socket.
enum Command {
    Append(Vec<u8>),
    Commit(TurnTicket),
    Clear,
    UpdatePrompt(String),
}

/// The stream is broken or closed; its events end with [`TranscriptionEvent::Broken`] when it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the realtime transcription stream is gone")]
pub struct StreamGone;

/// A connected transcription stream, in two halves that may live in different places.
pub struct RealtimeStream {
    pub sender: TranscriptionSender,
    pub events: TranscriptionEvents,
}

/// The owner's side for audio: append the caller's μ-law as it arrives, commit where a turn ends,
/// clear audio that belongs to no turn. Never waits. Dropping it closes the stream.
pub struct TranscriptionSender {
    /// To the socket task; closed (by drop) to end it.
    commands: mpsc::Sender<Command>,
    /// Cancelled by the sender when the command queue overflows; the task then breaks the stream.
    overflow: CancellationToken,
    last_ticket: u64,
}

/// The owner's side for transcripts.
pub struct TranscriptionEvents {
    /// From the socket task; ends after `Broken`, or when the task ends after a deliberate close.
    events: mpsc::Receiver<TranscriptionEvent>,
}

impl TranscriptionSender {
    /// Queues caller audio: 8 kHz μ-law bytes exactly as Twilio sent them.
    pub fn append(&self, mulaw: &[u8]) -> Result<(), StreamGone> {
        self.queue(Command::Append(mulaw.to_vec()))
    }

    /// Ends the current turn: every byte appended since the last commit or clear is its audio.
    /// Its events carry the returned ticket.
    pub fn commit(&mut self) -> Result<TurnTicket, StreamGone> {
        let ticket = TurnTicket(self.last_ticket + 1);
        self.queue(Command::Commit(ticket))?;
        self.last_ticket = ticket.0;
        Ok(ticket)
    }

    /// Drops the audio appended since the last commit (speech the endpointer discarded).
    pub fn clear(&self) -> Result<(), StreamGone> {
        self.queue(Command::Clear)
    }

    /// Steers the spelling of later turns with text in the same language (recent turns, names).
    pub fn update_prompt(&self, prompt: &str) -> Result<(), StreamGone> {
        self.queue(Command::UpdatePrompt(prompt.to_string()))
    }

    /// Whether the socket task has ended (broken or closed).
    pub fn is_gone(&self) -> bool {
        self.commands.is_closed() || self.overflow.is_cancelled()
    }

    fn queue(&self, command: Command) -> Result<(), StreamGone> {
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.cancel();
                Err(StreamGone)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StreamGone),
        }
    }
}

impl TranscriptionEvents {
    /// The next event; `None` once the stream has ended (after `Broken`, or after a deliberate close).
    pub async fn next(&mut self) -> Option<TranscriptionEvent> {
        self.events.recv().await
    }
}

/// Starts the socket task for a socket whose session is set up.
pub(super) fn spawn(socket: Socket, settings: SessionSettings) -> RealtimeStream {
    let (commands_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let (events, events_rx) = mpsc::channel(EVENT_CAPACITY);
    let overflow = CancellationToken::new();
    let task = SocketTask {
        socket,
        settings,
        book: TurnBook::default(),
        events,
        overflow: overflow.clone(),
    };
    tokio::spawn(task.run(commands));
    RealtimeStream {
        sender: TranscriptionSender {
            commands: commands_tx,
            overflow,
            last_ticket: 0,
        },
        events: TranscriptionEvents { events: events_rx },
    }
}

struct SocketTask {
    socket: Socket,
    settings: SessionSettings,
    book: TurnBook,
    events: mpsc::Sender<TranscriptionEvent>,
    overflow: CancellationToken,
}

impl SocketTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let broken = loop {
            // Overflow first (nothing else matters then), then what the server said, so transcripts
            // never wait behind a queue of audio.
            tokio::select! {
                biased;
                () = self.overflow.cancelled() => break BrokenReason::Overloaded,
                message = self.socket.next() => {
                    if let Err(reason) = self.on_message(message).await {
                        break reason;
                    }
                }
                command = commands.recv() => {
                    let Some(command) = command else {
                        self.close().await;
                        return;
                    };
                    if let Err(reason) = self.on_command(command, &mut commands).await {
                        break reason;
                    }
                }
            }
        };
        // Closed now, so the sender sees the stream gone before the owner reads `Broken`.
        drop(commands);
        tracing::warn!(
            reason = %broken,
            turns_in_flight = self.book.turns_in_flight(),
            "realtime transcription stream broke"
        );
        let _ = self.events.send(TranscriptionEvent::Broken(broken)).await;
    }

    async fn on_message(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), BrokenReason> {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                return Err(BrokenReason::Closed {
                    code: frame.as_ref().map(|frame| u16::from(frame.code)),
                    reason: frame
                        .map(|frame| frame.reason.to_string())
                        .unwrap_or_default(),
                });
            }
            // Pings are answered by the library; the API sends no binary frames.
            Some(Ok(_)) => return Ok(()),
            None | Some(Err(tungstenite::Error::ConnectionClosed)) => {
                return Err(BrokenReason::Closed {
                    code: None,
                    reason: String::new(),
                });
            }
            Some(Err(error)) => return Err(BrokenReason::Transport(error.to_string())),
        };
        let event = parse_server_event(&text);
        match &event {
            ServerEvent::Malformed(what) => {
                tracing::warn!(%what, "unreadable realtime transcription event skipped");
            }
            ServerEvent::Other(kind) => tracing::trace!(%kind, "realtime event not used"),
            _ => {}
        }
        if let Some(event) = self.book.on_server_event(event) {
            // An owner that dropped its events half gets nothing more; the stream goes on.
            let _ = self.events.send(event).await;
        }
        Ok(())
    }

    /// Carries out one command; appends that queued up behind it go out with it as one.
    async fn on_command(
        &mut self,
        command: Command,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(), BrokenReason> {
        let Command::Append(mut audio) = command else {
            return self.carry_out(command).await;
        };
        let mut after = None;
        while after.is_none() && audio.len() < MAX_APPEND_BYTES {
            match commands.try_recv() {
                Ok(Command::Append(more)) => audio.extend_from_slice(&more),
                Ok(other) => after = Some(other),
                Err(_) => break,
            }
        }
        self.carry_out(Command::Append(audio)).await?;
        match after {
            Some(command) => self.carry_out(command).await,
            None => Ok(()),
        }
    }

    async fn carry_out(&mut self, command: Command) -> Result<(), BrokenReason> {
        match command {
            Command::Append(audio) => {
                self.book.appended(audio.len());
                self.write(wire::append(&BASE64.encode(&audio))).await
            }
            Command::Commit(ticket) => match self.book.commit(ticket) {
                CommitDecision::Send { event_id } => self.write(wire::commit(&event_id)).await,
                CommitDecision::Refuse { clear, failed } => {
                    if clear {
                        self.write(wire::clear()).await?;
                    }
                    let _ = self.events.send(failed).await;
                    Ok(())
                }
            },
            Command::Clear => {
                self.book.cleared();
                self.write(wire::clear()).await
            }
            Command::UpdatePrompt(prompt) => {
                let update = wire::session_update(
                    &self.settings.model,
                    &self.settings.language,
                    Some(&prompt),
                );
                self.write(update).await
            }
        }
    }

    /// Writes one event; a write stuck behind a full socket gives way to an overflow.
    async fn write(&mut self, text: String) -> Result<(), BrokenReason> {
        tokio::select! {
            biased;
            () = self.overflow.cancelled() => Err(BrokenReason::Overloaded),
            sent = self.socket.send(Message::text(text)) => {
                sent.map_err(|error| BrokenReason::Transport(error.to_string()))
            }
        }
    }

    /// The owner is done: a close frame, briefly waited for, then the socket goes.
    async fn close(mut self) {
        let _ = tokio::time::timeout(CLOSE_WAIT, self.socket.close(None)).await;
    }
}
