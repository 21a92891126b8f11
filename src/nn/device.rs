//! Device choice: CPU by default; CUDA with the `cuda` feature.

use candle_core::Device;

use crate::error::{Error, Result};

/// Parses `cpu`, `cuda` or `cuda:N`.
///
/// # Errors
/// [`Error::InvalidParam`] for anything else, [`Error::Unsupported`] for CUDA in a build
/// without the `cuda` feature, [`Error::Tensor`] if the GPU cannot be opened.
pub fn device(spec: &str) -> Result<Device> {
    match spec {
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal: usize = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map_err(|_| Error::param("device", s, "expected cuda:N"))?,
                None => 0,
            };
            if cfg!(feature = "cuda") {
                Ok(Device::new_cuda(ordinal)?)
            } else {
                Err(Error::Unsupported(format!(
                    "device `{s}`: this build has no CUDA support (rebuild with `--features cuda`)"
                )))
            }
        }
        other => Err(Error::param(
            "device",
            other,
            "expected cpu, cuda or cuda:N",
        )),
    }
}
