use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    fn count(&self) -> u8;

    fn rows(&self) -> impl Iterator<Item = u8> {
        0..self.count()
    }
}

fn main() {}
