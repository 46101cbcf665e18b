use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    #[smartasync(batch = 16)]
    fn rows(&self) -> impl Iterator<Item = u8>;
}

fn main() {}
