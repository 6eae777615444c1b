//! Listening: the tone of each interaction and the waves of negative ones (crisis detection).

pub mod crisis;
pub mod sentiment;
