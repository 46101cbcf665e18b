use smartasync::smartasync;

#[smartasync]
async fn fetch_async(key: u32) -> u32 {
    key
}

fn main() {
    let _ = fetch_async(1);
}
