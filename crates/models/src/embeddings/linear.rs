//! The encoder's linear layers, in the form this CPU runs fastest.
//!
//! With AVX-512 VNNI, 8-bit products ([`Int8Linear`]): 1,390 sentences/s on the machine of
//! BENCHMARKS.md, against 205 for candle's f32 model. Without it, 8-bit sums have no instruction
//! of their own, and the portable loop ran 36 sentences/s on that same machine; so those CPUs
//! (x86 without VNNI, ARM) keep the f32 weights and candle's matrix product, which picks its
//! SIMD at run time, and give up nothing in precision.

use candle_core::{Device, Tensor};

use crate::int8::Int8Linear;

pub(super) enum Linear {
    Int8(Int8Linear),
    /// `weight` is `[inputs, outputs]`, transposed once at load for the product.
    F32 {
        weight: Tensor,
        bias: Tensor,
    },
}

impl Linear {
    /// `y = x Wᵀ + b`, with `weights` as PyTorch stores them (`[outputs, inputs]`) and one bias
    /// per output.
    pub fn new(weights: Vec<f32>, inputs: usize, bias: Vec<f32>) -> candle_core::Result<Self> {
        if Int8Linear::has_fast_kernel() {
            Ok(Self::Int8(Int8Linear::quantize(&weights, inputs, &bias)))
        } else {
            Self::f32(weights, inputs, bias)
        }
    }

    fn f32(weights: Vec<f32>, inputs: usize, bias: Vec<f32>) -> candle_core::Result<Self> {
        let outputs = bias.len();
        let weight = Tensor::from_vec(weights, (outputs, inputs), &Device::Cpu)?;
        Ok(Self::F32 {
            weight: weight.t()?.contiguous()?,
            bias: Tensor::from_vec(bias, outputs, &Device::Cpu)?,
        })
    }

    pub fn outputs(&self) -> usize {
        match self {
            Self::Int8(linear) => linear.outputs(),
            Self::F32 { bias, .. } => bias.elem_count(),
        }
    }

    /// Rows of inputs (`[rows, inputs]`) to rows of outputs.
    pub fn forward(&self, input: &[f32]) -> candle_core::Result<Vec<f32>> {
        match self {
            Self::Int8(linear) => Ok(linear.forward(input)),
            Self::F32 { weight, bias } => {
                let inputs = weight.dim(0)?;
                let x = Tensor::from_slice(input, (input.len() / inputs, inputs), &Device::Cpu)?;
                x.matmul(weight)?
                    .broadcast_add(bias)?
                    .flatten_all()?
                    .to_vec1()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_form_computes_the_layer() {
        // Two inputs, three outputs: W = [[1, 2], [3, 4], [5, 6]], b = [0.5, 0, -1].
        let layer =
            Linear::f32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, vec![0.5, 0.0, -1.0]).unwrap();
        assert_eq!(layer.outputs(), 3);
        let y = layer.forward(&[1.0, 0.0, 0.0, -1.0]).unwrap();
        assert_eq!(y, vec![1.5, 3.0, 4.0, -1.5, -4.0, -7.0]);
    }

    #[test]
    fn the_form_follows_the_cpu() {
        let layer = Linear::new(vec![1.0; 8], 4, vec![0.0, 0.0]).unwrap();
        assert_eq!(
            matches!(layer, Linear::Int8(_)),
            Int8Linear::has_fast_kernel()
        );
        assert_eq!(layer.forward(&[0.5; 4]).unwrap(), vec![2.0, 2.0]);
    }
}
