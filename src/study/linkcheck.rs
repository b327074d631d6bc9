//! The transmission models checked against real transfers: requests of many sizes cross the
//! packet-level emulator ([`crate::link`]) over the kernel's TCP, and each measured time is
//! set beside the TCP-aware and the naive prediction for the same link, delay, payload,
//! window and (for a trace) phase. `splitbench validate-link` writes the rows and a chart.

use crate::channel::{Channel, Tcp, Transport, Window};
use crate::error::{Error, Result};
use crate::link::{Link, LinkOptions, Queue};
use crate::net::protocol::{read_message, write_message, Message, Reply};
use crate::net::tcpinfo::{tcp_info, TcpSettings};
use crate::report::LinkCheckRow;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes a request message adds to its payload (length, kind, id).
pub const REQUEST_OVERHEAD: u64 = 13;
/// Logits in each reply (a 10-class model's).
const REPLY_LOGITS: usize = 10;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct LinkCheckOptions {
    /// Request payloads, bytes.
    pub payloads: Vec<u64>,
    /// Fixed rates, Mbit/s (each crossed with every delay).
    pub rates_mbps: Vec<f64>,
    /// One-way delays, ms.
    pub delays_ms: Vec<f64>,
    /// Trace files (`time_s,mbps`), each run at `trace_delay_ms`.
    pub traces: Vec<PathBuf>,
    /// One-way delay of the trace cells, ms.
    pub trace_delay_ms: f64,
    /// Cold requests per payload (each on a new connection).
    pub cold: usize,
    /// Warm requests per payload (back to back after the cold ones).
    pub warm: usize,
    /// Queue of each direction.
    pub queue: Queue,
    /// Longest wait for any one transfer.
    pub timeout: Duration,
}

impl Default for LinkCheckOptions {
    fn default() -> Self {
        Self {
            payloads: vec![
                300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000,
            ],
            rates_mbps: vec![1.1, 5.85, 18.88],
            delays_ms: vec![5.0, 20.0, 50.0],
            traces: Vec::new(),
            trace_delay_ms: 20.0,
            cold: 2,
            warm: 3,
            queue: Queue::Unbounded,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Median and 95th percentile of the absolute relative error of one group, percent.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ErrorStats {
    /// `fixed` or `trace`, and `cold`, `warm` or `all`.
    pub group: String,
    /// Transfers in it.
    pub n: usize,
    /// TCP-aware model: median |error|.
    pub tcp_median_pct: f64,
    /// TCP-aware model: 95th percentile |error|.
    pub tcp_p95_pct: f64,
    /// Naive model: median |error|.
    pub naive_median_pct: f64,
    /// Naive model: 95th percentile |error|.
    pub naive_p95_pct: f64,
}

/// A validation run: its rows and what they say.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LinkCheck {
    /// One per transfer.
    #[serde(skip)]
    pub rows: Vec<LinkCheckRow>,
    /// Per group: fixed/trace x cold/warm/all.
    pub errors: Vec<ErrorStats>,
    /// The kernel's TCP settings inside the emulator's namespace (the sender's).
    pub tcp: TcpSettings,
    /// How the link was emulated.
    pub emulation: String,
}

/// One emulated link of the sweep.
struct Cell {
    spec: String,
    kind: &'static str,
    delay_ms: f64,
}

/// Runs every cell of `o` through one emulated link after another; `progress(done, total)`
/// after each transfer.
pub fn check_links(
    o: &LinkCheckOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<LinkCheck> {
    if o.payloads.is_empty() || o.cold + o.warm == 0 {
        return Err(Error::InvalidArg("validate-link: nothing to send".into()));
    }
    let mut cells = Vec::new();
    for &r in &o.rates_mbps {
        for &d in &o.delays_ms {
            cells.push(Cell {
                spec: format!("fixed:mbps={r}"),
                kind: "fixed",
                delay_ms: d,
            });
        }
    }
    for t in &o.traces {
        cells.push(Cell {
            spec: format!("trace:path={}", t.display()),
            kind: "trace",
            delay_ms: o.trace_delay_ms,
        });
    }
    let total = cells.len() * o.payloads.len() * (o.cold + o.warm);
    let link = Link::up()?;
    let tcp = link.inside_thread(TcpSettings::read)?;
    let mut rows = Vec::with_capacity(total);
    for cell in &cells {
        let ch = Channel::parse(&cell.spec)?;
        let lo = LinkOptions {
            uplink: ch.clone(),
            downlink: ch.clone(),
            delay_ms: cell.delay_ms,
            queue: o.queue,
        };
        let (cell_rows, _, _) = link.run(&lo, |t0| {
            run_cell(&link, &lo, cell, o, t0, &mut |n| {
                progress(rows.len() + n, total)
            })
        })?;
        rows.extend(cell_rows?);
    }
    Ok(LinkCheck {
        errors: error_stats(&rows),
        rows,
        tcp,
        emulation: format!(
            "splitbench link: network namespace + TUN, 1500-byte delivery opportunities, \
             delay then link, {:?} queue, downlink = uplink",
            o.queue
        ),
    })
}

/// The host side: answers every request of every connection with a 10-logit reply until
/// `stop`.
fn serve(listener: &TcpListener, stop: &AtomicBool) {
    while let Ok((mut c, _)) = listener.accept() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let _ = c.set_nodelay(true);
        while let Ok(Message::Request { id, .. }) = read_message(&mut c, 1 << 24) {
            let reply = Message::Reply(Reply {
                id,
                decode_ms: 0.0,
                suffix_ms: 0.0,
                server_ms: 0.0,
                logits: vec![0.0; REPLY_LOGITS],
            });
            if write_message(&mut c, &reply).is_err() {
                break;
            }
        }
    }
}

/// Every payload of one cell: cold requests on new connections, then warm ones.
fn run_cell(
    link: &Link,
    lo: &LinkOptions,
    cell: &Cell,
    o: &LinkCheckOptions,
    t0: Instant,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<Vec<LinkCheckRow>> {
    let listener = TcpListener::bind((link.host(), 0))
        .map_err(|e| Error::Net(format!("validate-link: listening: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Net(format!("validate-link: {e}")))?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| serve(&listener, &stop));
        let out = link.inside_thread(|| {
            let mut rows = Vec::new();
            for &bytes in &o.payloads {
                let mut conn = None;
                for repeat in 0..o.cold + o.warm {
                    let cold = repeat < o.cold;
                    if cold || conn.is_none() {
                        conn = Some(connect(addr, o.timeout)?);
                    }
                    let c = conn.as_mut().expect("connected");
                    let m = transfer(c, repeat as u64, bytes)?;
                    rows.push(row(lo, cell, bytes, cold, repeat, t0, m)?);
                    progress(rows.len());
                }
            }
            Ok(rows)
        });
        // Wake the accept loop so the server ends.
        stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        out?
    })
}

fn net_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Net(format!("validate-link: {what}: {e}"))
}

fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    let c = TcpStream::connect_timeout(&addr, timeout).map_err(net_err("connecting"))?;
    c.set_nodelay(true).map_err(net_err("TCP_NODELAY"))?;
    c.set_read_timeout(Some(timeout))
        .map_err(net_err("timeout"))?;
    Ok(c)
}

/// One measured request.
struct Measured {
    start: Instant,
    ms: f64,
    cwnd_before: Option<u32>,
    retrans: Option<u32>,
}

fn transfer(c: &mut TcpStream, id: u64, bytes: u64) -> Result<Measured> {
    let before = tcp_info(c);
    let msg = Message::Request {
        id,
        payload: vec![0x5a; bytes as usize],
    };
    let start = Instant::now();
    let proto = |e| Error::Net(format!("validate-link: request of {bytes} B: {e}"));
    write_message(c, &msg).map_err(proto)?;
    match read_message(c, 1 << 20).map_err(proto)? {
        Message::Reply(r) if r.id == id => {}
        m => return Err(Error::Net(format!("validate-link: got {}", m.name()))),
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let after = tcp_info(c);
    Ok(Measured {
        start,
        ms,
        cwnd_before: before.map(|b| b.cwnd),
        retrans: after
            .zip(before)
            .map(|(a, b)| a.retrans.saturating_sub(b.retrans)),
    })
}

/// The predictions for one transfer and its row.
fn row(
    lo: &LinkOptions,
    cell: &Cell,
    bytes: u64,
    cold: bool,
    repeat: usize,
    t0: Instant,
    m: Measured,
) -> Result<LinkCheckRow> {
    let rtt = 2.0 * lo.delay_ms;
    let start_s = m.start.duration_since(t0).as_secs_f64();
    let window = match (cold, m.cwnd_before) {
        (true, _) => Window::Cold,
        (false, Some(w)) => Window::Segments(w.into()),
        (false, None) => Window::Warm,
    };
    let tcp = Transport::Tcp(Tcp {
        window,
        ..Tcp::default()
    });
    let up = |t: Transport| lo.uplink.clone().with_rtt_ms(rtt).with_transport(t);
    let request = bytes + REQUEST_OVERHEAD;
    let reply = Message::Reply(Reply {
        id: 0,
        decode_ms: 0.0,
        suffix_ms: 0.0,
        server_ms: 0.0,
        logits: vec![0.0; REPLY_LOGITS],
    })
    .to_bytes()
    .len() as u64;
    // The request meets the link one delay after it is sent; the reply one delay after the
    // request left the link.
    let at = start_s + lo.delay_ms * 1e-3;
    let up_tcp = up(tcp).tx_ms_from(request, at);
    let down_tcp = lo
        .downlink
        .clone()
        .with_rtt_ms(rtt)
        .with_transport(Transport::Tcp(Tcp::default()))
        .tx_ms_from(reply, at + (up_tcp + lo.delay_ms) * 1e-3);
    let tcp_ms = rtt + up_tcp + down_tcp;
    let naive_ms = rtt + up(Transport::Naive).tx_ms_from(request, at);
    let err = |p: f64| 100.0 * (p - m.ms) / m.ms;
    Ok(LinkCheckRow {
        link: cell.spec.clone(),
        kind: cell.kind.into(),
        mbps: lo.uplink.nominal_mbps(),
        delay_ms: lo.delay_ms,
        payload_bytes: bytes,
        window: if cold { "cold" } else { "warm" }.into(),
        repeat,
        start_s,
        cwnd_before: m.cwnd_before,
        retrans: m.retrans,
        measured_ms: m.ms,
        tcp_ms,
        naive_ms,
        tcp_error_pct: err(tcp_ms),
        naive_error_pct: err(naive_ms),
    })
}

/// Median and p95 of |error| per kind x window, and per kind over both windows.
pub fn error_stats(rows: &[LinkCheckRow]) -> Vec<ErrorStats> {
    let mut out = Vec::new();
    for kind in ["fixed", "trace"] {
        for window in ["cold", "warm", "all"] {
            let sel: Vec<&LinkCheckRow> = rows
                .iter()
                .filter(|r| r.kind == kind && (window == "all" || r.window == window))
                .collect();
            if sel.is_empty() {
                continue;
            }
            let q = |f: fn(&LinkCheckRow) -> f64, p: f64| {
                let mut v: Vec<f64> = sel.iter().map(|r| f(r).abs()).collect();
                v.sort_by(f64::total_cmp);
                crate::channel::quantile_sorted(&v, p)
            };
            out.push(ErrorStats {
                group: format!("{kind} {window}"),
                n: sel.len(),
                tcp_median_pct: q(|r| r.tcp_error_pct, 0.5),
                tcp_p95_pct: q(|r| r.tcp_error_pct, 0.95),
                naive_median_pct: q(|r| r.naive_error_pct, 0.5),
                naive_p95_pct: q(|r| r.naive_error_pct, 0.95),
            });
        }
    }
    out
}
