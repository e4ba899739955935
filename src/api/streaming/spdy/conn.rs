//! A server-side SPDY/3.1 connection over any byte transport (an upgraded HTTP/1.1 connection,
//! or a WebSocket carrying SPDY as kubectl's tunnel does): streams the client opens are answered
//! with SYN_REPLY and handed out as [`Stream`]s; pings are echoed; no flow control (as the Go
//! implementation kubectl uses).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::frame::{self, Frame, FLAG_FIN, MAX_DATA_WRITE, RST_PROTOCOL_ERROR, RST_REFUSED_STREAM};
use super::headers::{Deflater, HeaderList, Inflater};

/// Most streams open at once on one connection.
pub const MAX_STREAMS: usize = 1024;

/// A stream the client opened.
pub struct Stream {
    /// Its id.
    pub id: u32,
    /// The headers of its SYN_STREAM.
    pub headers: HeaderList,
    /// What the client sends on it; ends at its FIN, a reset or the end of the connection.
    pub data: mpsc::Receiver<Bytes>,
    /// Writing to it.
    pub writer: StreamWriter,
}

/// The connection or stream is gone.
#[derive(Debug, thiserror::Error)]
#[error("SPDY connection closed")]
pub struct Closed;

enum Out {
    Reply(u32),
    Data {
        stream_id: u32,
        fin: bool,
        data: Bytes,
    },
    Rst {
        stream_id: u32,
        status: u32,
    },
    Ping(u32),
    Close,
}

/// Writes to one stream (cheap to clone).
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    tx: mpsc::Sender<Out>,
}

impl StreamWriter {
    /// Sends `data` (in frames of at most 32 KiB).
    pub async fn write(&self, data: &[u8]) -> Result<(), Closed> {
        for chunk in data.chunks(MAX_DATA_WRITE) {
            self.tx
                .send(Out::Data {
                    stream_id: self.id,
                    fin: false,
                    data: Bytes::copy_from_slice(chunk),
                })
                .await
                .map_err(|_| Closed)?;
        }
        Ok(())
    }

    /// Ends the server's side of the stream (DATA with FIN).
    pub async fn close(&self) -> Result<(), Closed> {
        self.tx
            .send(Out::Data {
                stream_id: self.id,
                fin: true,
                data: Bytes::new(),
            })
            .await
            .map_err(|_| Closed)
    }

    /// Resets the stream with `status` (e.g. [`frame::RST_CANCEL`]).
    pub async fn reset(&self, status: u32) -> Result<(), Closed> {
        self.tx
            .send(Out::Rst {
                stream_id: self.id,
                status,
            })
            .await
            .map_err(|_| Closed)
    }
}

/// A running connection: the streams the client opens, and a way to end it.
pub struct Connection {
    /// Streams as the client opens them; ends with the connection.
    pub incoming: mpsc::Receiver<Stream>,
    shutdown: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Starts serving SPDY on `io`.
    pub fn start<T>(io: T) -> Connection
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::channel(64);
        let (incoming_tx, incoming) = mpsc::channel(16);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let writer = tokio::spawn(write_loop(write, out_rx));
        let done = tokio::spawn(async move {
            read_loop(read, out_tx.clone(), incoming_tx, shutdown_rx).await;
            let _ = out_tx.send(Out::Close).await;
            drop(out_tx);
            let _ = writer.await;
        });
        Connection {
            incoming,
            shutdown: Some(shutdown_tx),
            done,
        }
    }

    /// Ends the connection once what was written so far is sent.
    pub async fn close(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.done).await;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut read: R,
    out: mpsc::Sender<Out>,
    incoming: mpsc::Sender<Stream>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut inflater = Inflater::new();
    let mut streams: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    loop {
        let frame = match frame::decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                buf.reserve(32 * 1024);
                let n = tokio::select! {
                    n = read.read_buf(&mut buf) => n,
                    _ = &mut shutdown => return,
                };
                match n {
                    Ok(0) => return,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY connection read failed");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "SPDY protocol error");
                return;
            }
        };
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                headers,
                ..
            } => {
                // The block must be inflated even for a refused stream: the context is shared.
                let headers = match inflater.decompress(&headers) {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY header block");
                        let _ = out
                            .send(Out::Rst {
                                stream_id,
                                status: RST_PROTOCOL_ERROR,
                            })
                            .await;
                        return;
                    }
                };
                if streams.len() >= MAX_STREAMS || streams.contains_key(&stream_id) {
                    let _ = out
                        .send(Out::Rst {
                            stream_id,
                            status: RST_REFUSED_STREAM,
                        })
                        .await;
                    continue;
                }
                let (data_tx, data) = mpsc::channel(32);
                if flags & FLAG_FIN == 0 {
                    streams.insert(stream_id, data_tx);
                }
                if out.send(Out::Reply(stream_id)).await.is_err() {
                    return;
                }
                let stream = Stream {
                    id: stream_id,
                    headers,
                    data,
                    writer: StreamWriter {
                        id: stream_id,
                        tx: out.clone(),
                    },
                };
                if incoming.send(stream).await.is_err() {
                    return;
                }
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if !data.is_empty() {
                    if let Some(tx) = streams.get(&stream_id) {
                        // A stream whose reader went away just drops what arrives.
                        if tx.send(data).await.is_err() {
                            streams.remove(&stream_id);
                        }
                    }
                }
                if flags & FLAG_FIN != 0 {
                    streams.remove(&stream_id);
                }
            }
            Frame::RstStream { stream_id, .. } => {
                streams.remove(&stream_id);
            }
            Frame::Ping { id } => {
                if out.send(Out::Ping(id)).await.is_err() {
                    return;
                }
            }
            Frame::GoAway { .. } => return,
            Frame::Headers { headers, .. } | Frame::SynReply { headers, .. } => {
                if inflater.decompress(&headers).is_err() {
                    return;
                }
            }
            Frame::Settings { .. } | Frame::WindowUpdate { .. } | Frame::Unknown { .. } => {}
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut write: W, mut out: mpsc::Receiver<Out>) {
    let mut deflater = Deflater::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut last_stream = 0u32;
    while let Some(item) = out.recv().await {
        let frame = match item {
            Out::Reply(stream_id) => {
                last_stream = last_stream.max(stream_id);
                match deflater.compress(&[]) {
                    Ok(h) => Frame::SynReply {
                        stream_id,
                        flags: 0,
                        headers: h.into(),
                    },
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY header compression");
                        break;
                    }
                }
            }
            Out::Data {
                stream_id,
                fin,
                data,
            } => Frame::Data {
                stream_id,
                flags: if fin { FLAG_FIN } else { 0 },
                data,
            },
            Out::Rst { stream_id, status } => Frame::RstStream { stream_id, status },
            Out::Ping(id) => Frame::Ping { id },
            Out::Close => {
                buf.clear();
                frame::encode(
                    &Frame::GoAway {
                        last_good: last_stream,
                        status: 0,
                    },
                    &mut buf,
                );
                let _ = write.write_all(&buf).await;
                break;
            }
        };
        buf.clear();
        frame::encode(&frame, &mut buf);
        if write.write_all(&buf).await.is_err() {
            break;
        }
        // Flush when nothing else is queued (batches frames under load).
        if out.is_empty() && write.flush().await.is_err() {
            break;
        }
    }
    let _ = write.flush().await;
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::super::headers::Deflater;
    use super::*;

    /// A client opening a stream, sending data with FIN, and pinging, against the server side.
    #[tokio::test]
    async fn streams_replies_data_and_pings() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut conn = Connection::start(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let mut deflater = Deflater::new();
        let headers = vec![("streamtype".to_string(), "data".to_string())];
        let mut buf = BytesMut::new();
        frame::encode(
            &Frame::SynStream {
                stream_id: 1,
                associated: 0,
                priority: 0,
                flags: 0,
                headers: deflater.compress(&headers).expect("compress").into(),
            },
            &mut buf,
        );
        frame::encode(
            &Frame::Data {
                stream_id: 1,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello"),
            },
            &mut buf,
        );
        frame::encode(&Frame::Ping { id: 1 }, &mut buf);
        cw.write_all(&buf).await.expect("write");

        let mut stream = conn.incoming.recv().await.expect("stream");
        assert_eq!(stream.id, 1);
        assert_eq!(stream.headers, headers);
        assert_eq!(stream.data.recv().await.as_deref(), Some(&b"hello"[..]));
        assert_eq!(stream.data.recv().await, None, "FIN ends the data");
        stream.writer.write(b"back").await.expect("write back");
        stream.writer.close().await.expect("close");

        let mut inflater = Inflater::new();
        let mut got = BytesMut::new();
        let mut frames = Vec::new();
        while frames.len() < 4 {
            cr.read_buf(&mut got).await.expect("read");
            while let Some(f) = frame::decode(&mut got).expect("frame") {
                frames.push(f);
            }
        }
        match &frames[0] {
            Frame::SynReply {
                stream_id: 1,
                headers,
                ..
            } => {
                assert_eq!(inflater.decompress(headers).expect("reply headers"), vec![]);
            }
            other => panic!("expected SYN_REPLY, got {other:?}"),
        }
        // The ping's answer may come before or after the stream's data.
        assert!(frames.contains(&Frame::Ping { id: 1 }), "{frames:?}");
        let data: Vec<&Frame> = frames
            .iter()
            .filter(|f| matches!(f, Frame::Data { .. }))
            .collect();
        assert_eq!(
            data,
            vec![
                &Frame::Data {
                    stream_id: 1,
                    flags: 0,
                    data: Bytes::from_static(b"back")
                },
                &Frame::Data {
                    stream_id: 1,
                    flags: FLAG_FIN,
                    data: Bytes::new()
                }
            ]
        );
        conn.close().await;
    }
}
