//! The packet-level link emulator, end to end through the kernel's TCP. Needs root or
//! CAP_NET_ADMIN, `/dev/net/tun` and iproute2: without them every test says `skipped:` and
//! passes (`SPLITBENCH_REQUIRE_NETNS=1` makes that a failure).

use splitbench::channel::Channel;
use splitbench::link::{Link, LinkOptions, Queue};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// A link, or `None` after saying why this machine cannot make one.
fn link() -> Option<Link> {
    match Link::up() {
        Ok(l) => Some(l),
        Err(e) => {
            let s = e.to_string();
            let missing = s.contains("needs root") || s.contains("iproute2") || s.contains("tun");
            if !missing || std::env::var("SPLITBENCH_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("{s}");
            }
            eprintln!("skipped: {s}");
            None
        }
    }
}

fn options(up: &str, down: &str, delay_ms: f64) -> LinkOptions {
    LinkOptions {
        uplink: Channel::parse(up).unwrap(),
        downlink: Channel::parse(down).unwrap(),
        delay_ms,
        queue: Queue::Unbounded,
    }
}

/// A listener on the host side of `l`.
fn listen(l: &Link) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((l.host(), 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median round trip of a 1-byte ping-pong over one warm connection, ms.
fn ping_ms(l: &Link, o: &LinkOptions) -> f64 {
    let (listener, addr) = listen(l);
    let (rtts, _, _) = l
        .run(o, |_| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    let (mut c, _) = listener.accept().unwrap();
                    c.set_nodelay(true).unwrap();
                    let mut b = [0u8; 1];
                    while c.read_exact(&mut b).is_ok() {
                        c.write_all(&b).unwrap();
                    }
                });
                l.inside_thread(|| {
                    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
                    c.set_nodelay(true).unwrap();
                    let mut b = [7u8; 1];
                    (0..25)
                        .map(|_| {
                            let t = Instant::now();
                            c.write_all(&b).unwrap();
                            c.read_exact(&mut b).unwrap();
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .skip(5)
                        .collect::<Vec<_>>()
                })
                .unwrap()
            })
        })
        .unwrap();
    median(rtts)
}

#[test]
fn delay_adds_twice_itself_to_a_ping_pong() {
    let Some(l) = link() else { return };
    let fast = "fixed:mbps=1000";
    let base = ping_ms(&l, &options(fast, fast, 0.0));
    let delayed = ping_ms(&l, &options(fast, fast, 15.0));
    let added = delayed - base;
    assert!(
        (added - 30.0).abs() < 1.0,
        "15 ms each way added {added} ms ({base} -> {delayed})"
    );
}

/// Sends `bytes` from inside to the host over `o`; returns the host's receive log:
/// (seconds since the link started, bytes so far).
fn upload(l: &Link, o: &LinkOptions, bytes: usize) -> Vec<(f64, usize)> {
    let (listener, addr) = listen(l);
    let (log, _, _) = l
        .run(o, |t0| {
            std::thread::scope(|s| {
                let rx = s.spawn(|| {
                    let (mut c, _) = listener.accept().unwrap();
                    let mut buf = vec![0u8; 1 << 16];
                    let (mut got, mut log) = (0, Vec::new());
                    while got < bytes {
                        let n = c.read(&mut buf).unwrap();
                        assert!(n > 0, "connection closed after {got} bytes");
                        got += n;
                        log.push((t0.elapsed().as_secs_f64(), got));
                    }
                    c.write_all(&[1]).unwrap();
                    log
                });
                l.inside_thread(|| {
                    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
                    c.write_all(&vec![0u8; bytes]).unwrap();
                    c.read_exact(&mut [0u8; 1]).unwrap();
                })
                .unwrap();
                rx.join().unwrap()
            })
        })
        .unwrap();
    log
}

/// TCP over this link carries 1448 payload bytes in each 1500-byte packet.
const TCP_GOODPUT: f64 = 1448.0 / 1500.0;

#[test]
fn a_constant_rate_link_delivers_its_rate() {
    let Some(l) = link() else { return };
    let o = options("fixed:mbps=8", "fixed:mbps=8", 5.0);
    let log = upload(&l, &o, 1_500_000);
    // After slow start, from the first 200 kB to the end.
    let (t_a, b_a) = *log.iter().find(|e| e.1 >= 200_000).unwrap();
    let (t_b, b_b) = *log.last().unwrap();
    let got = (b_b - b_a) as f64 * 8e-6 / (t_b - t_a);
    let want = 8.0 * TCP_GOODPUT;
    assert!(
        (got / want - 1.0).abs() < 0.02,
        "goodput {got:.3} Mbit/s, want {want:.3} (8 Mbit/s x 1448/1500)"
    );
}

/// Sends `n` 1500-byte UDP packets (1472 bytes of payload) from inside to the host at once,
/// so the link's queue never empties; returns when each arrived, s since the link started.
fn udp_burst(l: &Link, o: &LinkOptions, n: usize) -> Vec<f64> {
    let rx = UdpSocket::bind((l.host(), 0)).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let addr = rx.local_addr().unwrap();
    let (times, _, _) = l
        .run(o, |t0| {
            std::thread::scope(|s| {
                let h = s.spawn(|| {
                    let mut buf = [0u8; 2048];
                    let mut times = Vec::new();
                    while times.len() < n && rx.recv(&mut buf).is_ok() {
                        times.push(t0.elapsed().as_secs_f64());
                    }
                    times
                });
                l.inside_thread(|| {
                    let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
                    for k in 0..n {
                        tx.send_to(&[k as u8; 1472], addr).unwrap();
                        // Small bursts: the device's own queue towards the TUN holds 500.
                        if k % 50 == 49 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
                .unwrap();
                h.join().unwrap()
            })
        })
        .unwrap();
    times
}

#[test]
fn a_trace_replays_its_rate_changes_on_time() {
    let Some(l) = link() else { return };
    let dir = std::env::temp_dir().join(format!("splitbench-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("steps.csv");
    // 2.4 Mbit/s (200 packets/s) for the first second, 9.6 (800/s) for the next.
    std::fs::write(&path, "time_s,mbps\n0,2.4\n1,9.6\n").unwrap();
    let trace = format!("trace:path={}", path.display());
    let o = options(&trace, "fixed:mbps=100", 0.0);
    let times = udp_burst(&l, &o, 600);
    assert_eq!(times.len(), 600, "packets lost");
    let in_window = |a: f64, b: f64| times.iter().filter(|&&t| t >= a && t < b).count();
    // Opportunities at k/200 s, then 1 + k/800 s: count per window, one either way for the
    // windows' edges and the clock offset between the test and the link.
    let slow = in_window(0.1, 0.9);
    let fast = in_window(1.1, 1.4);
    assert!(
        (slow as i64 - 160).abs() <= 2,
        "0.1-0.9 s: {slow} packets, want 160"
    );
    assert!(
        (fast as i64 - 240).abs() <= 2,
        "1.1-1.4 s: {fast} packets, want 240"
    );
    let switch = in_window(0.97, 1.03);
    // 0.97-1.0 s at 200/s (6) + 1.0-1.03 s at 800/s (24).
    assert!(
        (switch as i64 - 30).abs() <= 2,
        "around 1 s: {switch} packets, want 30"
    );
}
