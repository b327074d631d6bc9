//! Real co-inference over a network (layer 7, uses `eval`, `compress`, `channel`, `report`,
//! `gpu`, `model`, `data`): the edge server ([`server`], `splitbench serve`), the device
//! client ([`client`], `splitbench offload`), the messages between them ([`protocol`],
//! `docs/wire-format.md`), and what the kernel says about a connection ([`tcpinfo`]).

pub mod client;
pub mod protocol;
pub mod server;
pub mod summary;
pub mod tcpinfo;

pub use client::{edge_profile, offload, EdgeProfile, OffloadOptions, Offloaded};
pub use server::{Edge, ServeEvent, ServeOptions};
pub use summary::{summarize, OffloadSummary, PhaseStats};
