//! kiln: deploy a pre-trained ONNX or TFLite model to microcontroller firmware, run it over a serial link and
//! validate it. One module per pipeline step; the library never prints, the CLI renders.

pub mod boards;
pub mod build;
pub mod cli;
pub mod codegen;
pub mod data;
pub mod deploy;
pub mod flash;
pub mod gate;
pub mod import;
pub mod ir;
pub mod link;
pub mod metrics;
pub mod ops;
pub mod optimize;
pub mod plan;
pub mod quantize;
pub mod reference;
pub mod report_html;
pub mod sim;
pub mod store;
pub mod toolchain;
pub mod validate;
