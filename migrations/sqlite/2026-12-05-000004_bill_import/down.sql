DROP TABLE bill_imports;
