use smartasync::smartasync;

#[smartasync]
trait Store: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

struct Database {
    path: String,
}

#[smartasync]
impl Store for Database {
    fn load(&self, id: u32) -> u32 {
        self.path.len() as u32 + id
    }
}

fn main() {}
