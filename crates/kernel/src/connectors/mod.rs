//! Model providers implementing the kernel's traits. The local candle models live in their own
//! crate so that the kernel compiles without them.

pub mod openai;
