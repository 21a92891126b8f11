#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use candle_core::{Device, Tensor};
fn main() -> anyhow::Result<()> {
    let d = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (8192, 128), &d)?;
    let w = Tensor::randn(0f32, 1.0, (512, 128), &d)?;
    let q = Tensor::randn(0f32, 1.0, (32, 4, 256, 32), &d)?;
    for _ in 0..2 {
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let _y = x.matmul(&w.t()?)?;
        }
        let s = t.elapsed().as_secs_f64() / 20.0;
        println!(
            "linear 8192x128x512: {:.2} ms {:.1} GFLOP/s",
            s * 1e3,
            2.0 * 8192.0 * 128.0 * 512.0 / s / 1e9
        );
        let t = std::time::Instant::now();
        for _ in 0..5 {
            let _y = q.matmul(&q.t()?)?;
        }
        let s = t.elapsed().as_secs_f64() / 5.0;
        println!(
            "attn qk 128x(256x32x256): {:.2} ms {:.1} GFLOP/s",
            s * 1e3,
            2.0 * 128.0 * 256.0 * 256.0 * 32.0 / s / 1e9
        );
        let y = Tensor::randn(0f32, 1.0, (8192, 512), &d)?;
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let _g = y.t()?.matmul(&x)?;
        }
        let s = t.elapsed().as_secs_f64() / 20.0;
        println!(
            "wgrad 512x8192x128: {:.2} ms {:.1} GFLOP/s",
            s * 1e3,
            2.0 * 8192.0 * 128.0 * 512.0 / s / 1e9
        );
        let b = Tensor::randn(0f32, 1.0, 512, &d)?;
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let _g = y.broadcast_add(&b)?;
        }
        let s = t.elapsed().as_secs_f64() / 20.0;
        println!("bias add 8192x512: {:.2} ms", s * 1e3);
    }
    Ok(())
}
