use smartasync::smartasync;

struct Service;

#[smartasync(?Send)]
impl Service {
    async fn get(&self) -> u32 {
        1
    }
}

fn main() {}
