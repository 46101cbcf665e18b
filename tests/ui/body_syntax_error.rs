use smartasync::smartasync;

// A body with a syntax error, as while typing: both entries still exist, so the calls
// below resolve and the only error is rustc's own, once, at its line.
#[smartasync]
fn checksum(data: &[u8]) -> u32 {
    let total = data.len() as u32
    total
}

struct Service;

impl Service {
    #[smartasync]
    async fn fetch(&self, key: u32) -> u32 {
        let doubled = key * 2
        doubled
    }
}

async fn callers() {
    let _ = checksum(b"a");
    let _ = checksum_async(b"b").await;
    let _ = Service.fetch(1);
    let _ = Service.fetch_async(2).await;
}

fn main() {
    let _ = callers();
}
