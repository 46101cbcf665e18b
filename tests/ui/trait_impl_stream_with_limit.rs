use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    fn rows(&self) -> impl Iterator<Item = u8>;
}

#[derive(Clone)]
struct Table;

#[smartasync]
impl Rows for Table {
    #[smartasync(limit = 1)]
    fn rows(&self) -> impl Iterator<Item = u8> {
        0..3
    }
}

fn main() {}
