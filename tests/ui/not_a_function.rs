use smartasync::smartasync;

#[smartasync]
struct Service;

fn main() {
    let _ = Service;
}
