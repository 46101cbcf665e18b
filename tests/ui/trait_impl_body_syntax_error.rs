// A body with a syntax error, as while typing: both entries still exist, so the impl is
// complete and the calls below resolve; the only error is rustc's own, once, at its line.
use smartasync::smartasync;

#[smartasync]
trait Checksum: Send + Sync {
    fn checksum(&self, data: &[u8]) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Checksum for Plain {
    fn checksum(&self, data: &[u8]) -> u32 {
        let total = data.len() as u32
        total
    }
}

async fn callers() {
    let _ = Plain.checksum(b"a");
    let _ = Plain.checksum_async(b"b").await;
}

fn main() {
    let _ = callers();
}
