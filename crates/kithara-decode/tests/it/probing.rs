//! Probing fetches little and never the tail.
