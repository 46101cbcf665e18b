// `crate = ".."`: generated code reaches the runtime crate through the given path.
#[smartasync(crate = "crate::deps::smartasync")]
fn double(&self, value: u32) -> u32 {
    value * 2
}
