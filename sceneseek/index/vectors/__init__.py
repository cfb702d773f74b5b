"""Vector stores behind one protocol (``base.py``): Faiss over the catalogue's copy of
the vectors (``faiss.py``), and Milvus (``milvus.py``; pymilvus is imported on use)."""
