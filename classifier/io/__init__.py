"""Reading and writing: CSV data and its split, the tokenizer, atomic files, the .keras reader."""
