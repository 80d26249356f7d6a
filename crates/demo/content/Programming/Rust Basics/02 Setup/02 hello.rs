//! The program `cargo new hello` writes, with one small addition.

fn main() {
    let name = "Lectern";
    println!("Hello, {name}!");

    for count in (1..=3).rev() {
        println!("{count}...");
    }
    println!("Lift-off!");
}
