//! What the zip tests share: the x/mod vectors and the zips built from
//! them or by hand. Each test crate uses a part of it.
#![allow(dead_code)]

pub mod txtar;
pub mod zips;
