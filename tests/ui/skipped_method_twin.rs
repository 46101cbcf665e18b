use smartasync::smartasync;

#[derive(Clone)]
struct Service;

#[smartasync]
impl Service {
    #[smartasync(skip)]
    fn raw(&self) -> u32 {
        1
    }

    fn paired(&self) -> u32 {
        2
    }
}

async fn caller() -> u32 {
    Service.paired_async().await + Service.raw_async().await
}

fn main() {
    let _ = caller();
}
