use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    fn maybe_rows(&self, present: bool) -> Option<impl Iterator<Item = u8>>;
}

fn main() {}
