//! One direction of an emulated link, as a pure state machine over time in seconds: packets
//! wait the one-way delay, then queue for the link's delivery opportunities (Mahimahi's
//! semantics). The I/O loop feeds it packets and the clock; tests feed it numbers.

use crate::channel::Opportunities;
use std::collections::VecDeque;

/// What a direction's queue does when it is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// Never full (Mahimahi's default).
    Unbounded,
    /// Drop-tail: a packet that finds `n` packets queued is dropped.
    Packets(usize),
}

impl std::str::FromStr for Queue {
    type Err = String;
    fn from_str(s: &str) -> Result<Queue, String> {
        match s.split_once('=') {
            _ if s == "infinite" || s == "unbounded" => Ok(Queue::Unbounded),
            Some(("packets", n)) => match n.parse() {
                Ok(n) if n > 0 => Ok(Queue::Packets(n)),
                _ => Err(format!("queue '{s}': packets must be a whole number > 0")),
            },
            _ => Err(format!(
                "queue '{s}': expected `unbounded` or `packets=N` (drop-tail)"
            )),
        }
    }
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets that entered.
    pub packets_in: u64,
    /// Packets delivered.
    pub packets_out: u64,
    /// Bytes delivered.
    pub bytes_out: u64,
    /// Packets dropped by a full queue.
    pub dropped: u64,
}

/// One direction: delay line, then a queue drained at the link's opportunities.
#[derive(Debug)]
pub struct Shaper {
    delay_s: f64,
    opportunities: Opportunities,
    queue_limit: Queue,
    /// Packets in the delay line with the time they reach the queue (in order: the delay is
    /// constant).
    delayed: VecDeque<(f64, Vec<u8>)>,
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the queue's front packet not yet carried by an opportunity.
    front_left: usize,
    counts: Counts,
}

impl Shaper {
    /// A direction with one-way delay `delay_s` over `opportunities`.
    pub fn new(delay_s: f64, opportunities: Opportunities, queue_limit: Queue) -> Shaper {
        Shaper {
            delay_s,
            opportunities,
            queue_limit,
            delayed: VecDeque::new(),
            queue: VecDeque::new(),
            front_left: 0,
            counts: Counts::default(),
        }
    }

    /// A packet that arrived at `now`.
    pub fn push(&mut self, now: f64, packet: Vec<u8>) {
        self.counts.packets_in += 1;
        self.delayed.push_back((now + self.delay_s, packet));
    }

    /// When something next happens: a packet leaves the delay line, or an opportunity comes
    /// while packets are queued. `None` when empty.
    pub fn next_event(&self) -> Option<f64> {
        let ready = self.delayed.front().map(|d| d.0);
        let send = (!self.queue.is_empty()).then(|| self.opportunities.peek());
        match (ready, send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every event up to `now`, appending the packets that leave the link, in order.
    pub fn advance(&mut self, now: f64, out: &mut Vec<Vec<u8>>) {
        loop {
            let ready = self.delayed.front().map_or(f64::INFINITY, |d| d.0);
            let send = if self.queue.is_empty() {
                f64::INFINITY
            } else {
                self.opportunities.peek()
            };
            if ready.min(send) > now {
                return;
            }
            // A packet ready at an opportunity's instant may use it.
            if ready <= send {
                let (at, packet) = self.delayed.pop_front().expect("ready packet");
                self.enqueue(at, packet);
            } else {
                self.opportunities.take();
                self.deliver(self.opportunities.bytes() as usize, out);
            }
        }
    }

    fn enqueue(&mut self, at: f64, packet: Vec<u8>) {
        if let Queue::Packets(n) = self.queue_limit {
            if self.queue.len() >= n {
                self.counts.dropped += 1;
                return;
            }
        }
        if self.queue.is_empty() {
            // Opportunities that passed while the queue was empty are lost, not banked.
            self.opportunities.skip_to(at);
            self.front_left = packet.len();
        }
        self.queue.push_back(packet);
    }

    /// One opportunity of `budget` bytes: whole packets leave; a packet that does not fit
    /// uses it up and leaves at a later one; bytes it cannot use are lost.
    fn deliver(&mut self, mut budget: usize, out: &mut Vec<Vec<u8>>) {
        while budget > 0 && !self.queue.is_empty() {
            if self.front_left > budget {
                self.front_left -= budget;
                return;
            }
            budget -= self.front_left;
            let p = self.queue.pop_front().expect("front packet");
            self.counts.packets_out += 1;
            self.counts.bytes_out += p.len() as u64;
            out.push(p);
            self.front_left = self.queue.front().map_or(0, Vec::len);
        }
    }

    /// The counters so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;

    fn shaper(spec: &str, delay_s: f64, q: Queue) -> Shaper {
        Shaper::new(
            delay_s,
            Channel::parse(spec).unwrap().opportunities(1500),
            q,
        )
    }

    /// Runs events one by one; returns each packet's (first byte, departure time).
    fn drain(s: &mut Shaper) -> Vec<(u8, f64)> {
        let mut got = Vec::new();
        while let Some(t) = s.next_event() {
            let mut out = Vec::new();
            s.advance(t, &mut out);
            got.extend(out.iter().map(|p| (p[0], t)));
        }
        got
    }

    #[test]
    fn full_packets_leave_one_per_opportunity_after_the_delay() {
        // 12 Mbit/s: one 1500-byte opportunity per ms.
        let mut s = shaper("fixed:mbps=12", 0.020, Queue::Unbounded);
        for i in 0..5 {
            s.push(0.0, vec![i; 1500]);
        }
        let got = drain(&mut s);
        // The opportunity at exactly 20 ms is usable by packets ready then.
        let want: Vec<(u8, f64)> = (0..5).map(|i| (i as u8, 0.020 + i as f64 * 1e-3)).collect();
        assert_eq!(got.len(), 5);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() < 1e-9, "{got:?}");
        }
        assert_eq!(s.counts().bytes_out, 7500);
    }

    #[test]
    fn small_packets_share_an_opportunity_and_big_ones_span_two() {
        let mut s = shaper("fixed:mbps=12", 0.0, Queue::Unbounded);
        s.push(0.0, vec![1; 500]);
        s.push(0.0, vec![2; 500]);
        s.push(0.0, vec![3; 1000]); // 500 fit in the first, 500 in the second
        let got = drain(&mut s);
        let times: Vec<f64> = got.iter().map(|g| (g.1 * 1e3).round()).collect();
        assert_eq!(times, [1.0, 1.0, 2.0]);
    }

    #[test]
    fn an_idle_link_banks_nothing() {
        let mut s = shaper("fixed:mbps=12", 0.0, Queue::Unbounded);
        s.push(0.0105, vec![1; 1500]);
        s.push(0.0105, vec![2; 1500]);
        let got = drain(&mut s);
        assert!((got[0].1 - 0.011).abs() < 1e-9 && (got[1].1 - 0.012).abs() < 1e-9);
    }

    #[test]
    fn a_full_drop_tail_queue_drops() {
        let mut s = shaper("fixed:mbps=12", 0.0, Queue::Packets(3));
        for i in 0..5 {
            s.push(0.0, vec![i; 1500]);
        }
        let got = drain(&mut s);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(s.counts().dropped, 2);
    }

    #[test]
    fn queue_specs() {
        assert_eq!("packets=40".parse(), Ok(Queue::Packets(40)));
        assert_eq!("unbounded".parse(), Ok(Queue::Unbounded));
        assert!("packets=0".parse::<Queue>().is_err());
        assert!("bytes=9"
            .parse::<Queue>()
            .unwrap_err()
            .contains("packets=N"));
    }
}
