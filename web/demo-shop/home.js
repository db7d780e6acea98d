// The shop's home page: the products.
import * as Fission from "../sdk/fission.js";
import { PRODUCTS, start } from "./shop.js";

await start(Fission);
const list = document.getElementById("products");
for (const product of PRODUCTS) {
  const card = document.createElement("li");
  card.className = "product";
  const link = document.createElement("a");
  link.href = `product.html?sku=${product.sku}`;
  link.textContent = product.name;
  const price = document.createElement("span");
  price.className = "price";
  price.textContent = product.price;
  card.append(link, " ", price);
  list.append(card);
}
