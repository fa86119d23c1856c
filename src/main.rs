fn main() {
    println!("cuda {} threads {}", tch::Cuda::is_available(), tch::get_num_threads());
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0]).sum(tch::Kind::Float);
    t.print();
}
