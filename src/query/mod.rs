pub mod functions;
pub mod result;
