use smartasync::smartasync;

struct Database {
    path: String,
}

impl Database {
    #[smartasync]
    fn path_len(&self) -> usize {
        self.path.len()
    }
}

fn main() {
    let database = Database { path: String::new() };
    let _ = database.path_len();
}
