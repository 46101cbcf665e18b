use smartasync::smartasync;

#[smartasync]
trait Join: Send + Sync {
    fn join(&self, parts: Vec<&str>) -> String;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Join for Plain {
    fn join(&self, parts: Vec<&str>) -> String {
        parts.concat()
    }
}

fn main() {}
