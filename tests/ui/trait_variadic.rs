use smartasync::smartasync;

#[smartasync]
trait Print {
    fn printf(&self, format: *const u8, ...);
}

fn main() {}
